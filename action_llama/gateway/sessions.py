"""
Browser login sessions and one-time login links.

A session id and a login token are each 32 random bytes, URL-safe. The
browser holds the session id in the ``al_session`` cookie; the database holds
only the SHA-256 hash of either, so a copy of the file logs nobody in.

Sessions end after an idle timeout (12 hours by default) and, used or not,
after an absolute lifetime (7 days by default). They are kept in the project
database, so they survive a restart, and in memory, so that checking one
costs no database round trip: the database is written when a session starts
or ends, and when it is used at most once a minute.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from attrs import define
from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from ..store import Store

IDLE_TIMEOUT = 12 * 3600.0
"""
Seconds a session may go unused before it ends.
"""

LIFETIME = 7 * 86400.0
"""
Seconds a session lasts at most, however often it is used.
"""

TOUCH_EVERY = 60.0
"""
Seconds between two writes of one session's last use to the database.
"""

LINK_LIFETIME = 600.0
"""
Seconds a one-time login link stays usable.
"""

_MAX_SECRET_LENGTH = 100
"""
Cookie values and tokens longer than this are refused without hashing.
"""


def digest(secret: str) -> str:
    """
    The hash under which a session id or a login token is stored.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@define
class _Live:
    """
    A session in memory.

    :ivar written_at: the last use as last written to the database.
    """

    created_at: float
    last_seen_at: float
    written_at: float


class Sessions(Service):
    """
    The gateway's login sessions: loaded from the database as the service
    starts, checked in memory, kept in the database.

    :param store: the project's store.
    :param clock: the source of time.
    :param key_id: names the current API key (``KeyWatcher.key_id``).
    :param store_ready: gives a Deferred that fires once the store can be
        used.
    :param idle_timeout: seconds a session may go unused.
    :param lifetime: seconds a session lasts at most.
    """

    log = Logger()

    def __init__(
        self,
        store: Store,
        clock: IReactorTime,
        key_id: Callable[[], str | None],
        store_ready: Callable[[], Deferred[None]],
        *,
        idle_timeout: float = IDLE_TIMEOUT,
        lifetime: float = LIFETIME,
    ) -> None:
        self._store = store
        self._clock = clock
        self._key_id = key_id
        self._store_ready = store_ready
        self._idle_timeout = idle_timeout
        self._lifetime = lifetime
        self._live: dict[str, _Live] = {}
        self._generation = 0
        self._loaded = False
        self._waiting: list[Deferred[None]] = []

    def startService(self) -> None:
        super().startService()
        Deferred.fromCoroutine(self._load())

    async def _load(self) -> None:
        """
        Fill the memory from the database, then let waiting requests in. If
        the store cannot be opened, it reports why itself; if the sessions
        cannot be read, everyone logs in again.
        """
        try:
            await self._store_ready()
        except Exception:
            self._set_loaded()
            return
        generation = self._generation
        with self.log.failuresHandled(
            "Loading the login sessions failed; browsers must log in again"
        ):
            now = self._clock.seconds()
            records = await self._store.live_sessions(
                self._key_id(), now - self._idle_timeout, now - self._lifetime
            )
            if generation == self._generation:
                for record in records:
                    self._live[record.id_hash] = _Live(
                        record.created_at, record.last_seen_at, record.last_seen_at
                    )
                self.log.info("{count} login session(s) resumed", count=len(records))
        self._set_loaded()

    def _set_loaded(self) -> None:
        """
        Sessions can be looked up now: let everything that waited go on.
        """
        self._loaded = True
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(None)

    def loading(self) -> Deferred[None] | None:
        """
        A Deferred that fires once the sessions are loaded, or ``None`` if
        they are.
        """
        if self._loaded:
            return None
        d: Deferred[None] = Deferred()
        self._waiting.append(d)
        return d

    def when_loaded(self) -> Deferred[None]:
        """
        A Deferred that fires once the sessions are loaded (the database is
        open), at once if they are.
        """
        return self.loading() or succeed(None)

    def create(self) -> Deferred[str]:
        """
        Start a new session under the current API key.

        :returns: a Deferred that fires with the new session id once it is
            stored. It fails with the store's error if it could not be.
        """
        return Deferred.fromCoroutine(self._create())

    async def _create(self) -> str:
        await self.when_loaded()
        key_id = self._key_id()
        assert key_id is not None, "a session is made only after the key matched"
        generation = self._generation
        session_id = secrets.token_urlsafe(32)
        id_hash = digest(session_id)
        now = self._clock.seconds()
        await self._store.create_session(
            id_hash, key_id, now, now - self._idle_timeout, now - self._lifetime
        )
        self._forget_expired(now)
        if generation == self._generation:
            self._live[id_hash] = _Live(now, now, now)
        return session_id

    def lookup(self, session_id: str) -> str | None:
        """
        ``session_id`` if it names a session that is valid now, which then
        counts as used; ``None`` otherwise. Answered from memory.
        """
        if len(session_id) > _MAX_SECRET_LENGTH:
            return None
        id_hash = digest(session_id)
        live = self._live.get(id_hash)
        if live is None:
            return None
        now = self._clock.seconds()
        if self._expired(live, now):
            del self._live[id_hash]
            self._in_background(self._store.end_session(id_hash), "Ending a session")
            return None
        live.last_seen_at = now
        if now - live.written_at >= TOUCH_EVERY:
            live.written_at = now
            self._in_background(
                self._store.touch_session(id_hash, now), "Recording a session's use"
            )
        return session_id

    def end(self, session_id: str) -> Deferred[None]:
        """
        End one session (log out); nothing happens if it is not valid.

        :returns: a Deferred that fires with ``None`` once the session is gone
            from the database too. It fails with the store's error if it could
            not be deleted there.
        """
        if len(session_id) > _MAX_SECRET_LENGTH:
            return succeed(None)
        id_hash = digest(session_id)
        self._live.pop(id_hash, None)
        d = self.when_loaded()
        d.addCallback(lambda _: self._store.end_session(id_hash))
        return d.addCallback(lambda _: None)

    def end_all(self) -> None:
        """
        End every session and every unused login link at once (the API key
        changed); they are deleted from the database in the background.
        """
        self._generation += 1
        self._live.clear()
        d = self.when_loaded()
        d.addCallback(lambda _: self._store.end_all_sessions())
        self._in_background(d, "Ending every session")

    def _expired(self, live: _Live, now: float) -> bool:
        """
        Whether a session has been idle too long, or lived too long, at
        ``now``.
        """
        return (
            now >= live.last_seen_at + self._idle_timeout
            or now >= live.created_at + self._lifetime
        )

    def _forget_expired(self, now: float) -> None:
        """
        Drop expired sessions from memory (the database drops them as a new
        one is created), so memory follows the sessions that can still be
        used.
        """
        for id_hash in [
            h for h, live in self._live.items() if self._expired(live, now)
        ]:
            del self._live[id_hash]

    def _in_background(self, d: Deferred[Any], doing: str) -> None:
        """
        Let ``d`` run on its own; log if it fails.
        """
        d.addErrback(
            lambda failure: self.log.failure("{doing} failed", failure, doing=doing)
        )


class LoginLinks:
    """
    One-time login links: tokens that each start one session, once, within
    ten minutes of being issued. They are what ``al dashboard`` and
    ``al start -w`` print, so the key itself never travels in a URL.

    :param store: the project's store.
    :param clock: the source of time.
    :param key_id: names the current API key; a token works only under the
        key it was issued under.
    :param ready: gives a Deferred that fires once the store can be used.
    :param lifetime: seconds a token stays usable.
    """

    def __init__(
        self,
        store: Store,
        clock: IReactorTime,
        key_id: Callable[[], str | None],
        ready: Callable[[], Deferred[None]],
        lifetime: float = LINK_LIFETIME,
    ) -> None:
        self._store = store
        self._clock = clock
        self._key_id = key_id
        self._ready = ready
        self.lifetime = lifetime

    def issue(self) -> Deferred[str]:
        """
        Make a new token.

        :returns: a Deferred that fires with the token once it is stored. It
            fails with the store's error if it could not be.
        """
        return Deferred.fromCoroutine(self._issue())

    async def _issue(self) -> str:
        await self._ready()
        key_id = self._key_id()
        assert key_id is not None, "a link is issued only after the key matched"
        token = secrets.token_urlsafe(32)
        now = self._clock.seconds()
        await self._store.create_login_token(
            digest(token), key_id, now, now + self.lifetime
        )
        return token

    def consume(self, token: str) -> Deferred[bool]:
        """
        Use up ``token``.

        :returns: a Deferred that fires with whether it was valid: issued,
            unexpired, not used before, and under the current key. It is
            invalid from then on. It fails with the store's error.
        """
        return Deferred.fromCoroutine(self._consume(token))

    async def _consume(self, token: str) -> bool:
        if len(token) > _MAX_SECRET_LENGTH:
            return False
        await self._ready()
        valid: bool = await self._store.consume_login_token(
            digest(token), self._key_id(), self._clock.seconds()
        )
        return valid
