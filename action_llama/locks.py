"""
Resource locks held by run instances: the lock table, its TTL and its
wait-for graph (SPEC.md 5.6).

A lock is exclusive and named by a URI-shaped key such as
``github://acme/app/issues/42``. It is held by one run instance (the
holder) on behalf of an agent, until the holder releases it, the run exits
(``release_all``) or its TTL runs out. The TTL counts from the grant or the
last heartbeat; an expired lock is free. Expiry is lazy: every operation
first drops the locks whose time is up, so nothing is scheduled on the
clock.

Every new grant carries a fencing token from one counter shared by all
keys. Tokens only ever increase and are never reused, even after a release
or an expiry, so work done under a lock that has since expired can be told
apart from work done under its successor. A holder that acquires a key it
already holds keeps its token and gets a fresh TTL.

Deadlock detection follows how agents take locks: ``rlock`` returns at once
and agents retry in a loop, so nobody blocks inside the table. Instead, an
instance *waits for* a key when its last attempt to acquire that key failed
because another instance held it. Each waiter has a set of such keys, and
the edges of the wait-for graph run from a waiter to whoever holds those keys
now, so an edge to an instance disappears as soon as it holds nothing (and
follows a key when it changes hands). A waiter's keys are forgotten when it
acquires anything, releases a lock, or exits. Before an acquire records a
new wait, the table follows the edges from the key's holder; if they lead
back to the instance asking, granting nothing and waiting would close a
cycle, so the answer is "possible deadlock detected" with the cycle of
instance ids, starting with the one asking. It is only *possible*: an agent
that gave up on a key without releasing anything still counts as waiting
for it until it next acquires, releases or exits.

The table lives in memory only. When the service restarts every run is dead,
so every lock is free.
"""

from __future__ import annotations

import unicodedata
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar, Literal, TypeAlias

from attrs import evolve, frozen
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

MAX_KEY_LENGTH = 512
HELD_BY_ANOTHER = "held by another instance"
NOT_HELD = "not held"
POSSIBLE_DEADLOCK = "possible deadlock detected"


class LockKeyError(ValueError):
    """
    A resource key that cannot name a lock.
    """


def _check_key(key: str) -> None:
    """
    Check that ``key`` can name a lock: non-empty, at most
    ``MAX_KEY_LENGTH`` characters, and free of control characters.

    :raises LockKeyError: with a message saying what is wrong.
    """
    if not key:
        raise LockKeyError("the resource key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise LockKeyError(
            f"the resource key is {len(key)} characters long; "
            f"the limit is {MAX_KEY_LENGTH}"
        )
    for position, character in enumerate(key):
        if unicodedata.category(character) == "Cc":
            raise LockKeyError(
                f"the resource key has a control character ({character!r}) "
                f"at position {position}"
            )


def _iso(t: float) -> str:
    """
    Format a POSIX timestamp as ISO 8601 in UTC, to the millisecond, with a
    ``Z`` suffix (the form JavaScript's ``toISOString`` writes).
    """
    moment = datetime.fromtimestamp(t, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@frozen
class LockInfo:
    """
    One lock as it is held now.

    :ivar key: the resource key.
    :ivar holder: the instance id of the run holding it.
    :ivar agent: the name of that run's agent.
    :ivar held_since: when it was granted, as a POSIX timestamp.
    :ivar expires_at: when it becomes free unless heartbeated, as a POSIX
        timestamp.
    :ivar token: the fencing token of the grant.
    """

    key: str
    holder: str
    agent: str
    held_since: float
    expires_at: float
    token: int

    def to_json(self) -> dict[str, object]:
        """
        The lock as ``GET /locks/status`` shows it.
        """
        return {
            "resourceKey": self.key,
            "holder": self.holder,
            "agentName": self.agent,
            "heldSince": _iso(self.held_since),
            "expiresAt": _iso(self.expires_at),
            "fencingToken": self.token,
        }


@frozen
class Granted:
    """
    The lock was granted, or refreshed for the instance already holding it.

    :ivar key: the resource key.
    :ivar token: the fencing token of the grant.
    :ivar expires_at: when the lock expires, as a POSIX timestamp.
    """

    ok: ClassVar[Literal[True]] = True
    key: str
    token: int
    expires_at: float

    def to_json(self) -> dict[str, object]:
        """
        The wire shape of a successful ``rlock``.
        """
        return {
            "ok": True,
            "resourceKey": self.key,
            "fencingToken": self.token,
            "expiresAt": _iso(self.expires_at),
        }


@frozen
class HeldByAnother:
    """
    The lock is held by another instance; the caller now waits for it.

    :ivar key: the resource key.
    :ivar holder: the instance id holding it.
    :ivar held_since: when that instance got it, as a POSIX timestamp.
    """

    ok: ClassVar[Literal[False]] = False
    key: str
    holder: str
    held_since: float

    def to_json(self) -> dict[str, object]:
        """
        The wire shape of an ``rlock`` refused because of another holder.
        """
        return {
            "ok": False,
            "holder": self.holder,
            "heldSince": _iso(self.held_since),
            "reason": HELD_BY_ANOTHER,
        }


@frozen
class DeadlockDetected:
    """
    The lock is held by another instance, and waiting for it would close a
    cycle in the wait-for graph.

    :ivar key: the resource key.
    :ivar cycle: the instance ids around the cycle, starting with the caller;
        each waits for the next, and the last waits for the first.
    """

    ok: ClassVar[Literal[False]] = False
    key: str
    cycle: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        """
        The wire shape of an ``rlock`` refused to avoid a deadlock.
        """
        return {"ok": False, "reason": POSSIBLE_DEADLOCK, "cycle": list(self.cycle)}


@frozen
class Released:
    """
    The holder released the lock.

    :ivar key: the resource key.
    """

    ok: ClassVar[Literal[True]] = True
    key: str

    def to_json(self) -> dict[str, object]:
        """
        The wire shape of a successful ``runlock``.
        """
        return {"ok": True, "resourceKey": self.key}


@frozen
class Extended:
    """
    The holder's heartbeat pushed the lock's expiry back.

    :ivar key: the resource key.
    :ivar expires_at: the new expiry, as a POSIX timestamp.
    """

    ok: ClassVar[Literal[True]] = True
    key: str
    expires_at: float

    def to_json(self) -> dict[str, object]:
        """
        The wire shape of a successful ``rlock-heartbeat``.
        """
        return {"ok": True, "resourceKey": self.key, "expiresAt": _iso(self.expires_at)}


@frozen
class Refused:
    """
    A release or heartbeat from an instance that does not hold the lock.

    :ivar key: the resource key.
    :ivar reason: ``NOT_HELD`` if nobody holds it, ``HELD_BY_ANOTHER``
        otherwise.
    """

    ok: ClassVar[Literal[False]] = False
    key: str
    reason: str

    def to_json(self) -> dict[str, object]:
        """
        The wire shape of a refused ``runlock`` or ``rlock-heartbeat``.
        """
        return {"ok": False, "reason": self.reason}


AcquireResult: TypeAlias = Granted | HeldByAnother | DeadlockDetected
ReleaseResult: TypeAlias = Released | Refused
HeartbeatResult: TypeAlias = Extended | Refused


class LockTable:
    """
    The exclusive locks of all running instances, with TTL, fencing tokens
    and deadlock detection (see the module docstring for the model).

    Every operation that changes what ``active`` reports, expiry included,
    calls the listeners once before it returns. Expiry is only noticed by
    the next operation, so a lock can stay listed past its ``expires_at``
    until something touches the table.

    :param clock: the source of time.
    :param ttl: seconds a lock lives after its grant or last heartbeat.
    """

    _log: ClassVar[Logger] = Logger()

    def __init__(self, clock: IReactorTime, ttl: float = 1800.0) -> None:
        self._clock = clock
        self._ttl = ttl
        self._locks: dict[str, LockInfo] = {}
        self._waits: dict[str, set[str]] = {}
        self._last_token = 0
        self._listeners: list[Callable[[], None]] = []

    def acquire(self, key: str, holder: str, agent: str) -> AcquireResult:
        """
        Try to take the lock on ``key`` for the instance ``holder``.

        A free key is granted with a new fencing token. A key that ``holder``
        already holds keeps its token and gets a fresh TTL. A key held by
        another instance is refused, and ``holder`` is recorded as waiting
        for it, unless that would close a cycle of waits, in which case
        nothing is recorded and the cycle is returned.

        :param key: the resource key.
        :param holder: the instance id of the run asking.
        :param agent: the name of that run's agent.
        :raises LockKeyError: if ``key`` is not a valid resource key.
        """
        _check_key(key)
        now = self._clock.seconds()
        changed = self._expire(now)
        current = self._locks.get(key)
        result: AcquireResult
        if current is None or current.holder == holder:
            lock = self._grant(key, holder, agent, now, current)
            changed = True
            result = Granted(key, lock.token, lock.expires_at)
        else:
            result = self._refuse(key, holder, current)
        if changed:
            self._notify()
        return result

    def release(self, key: str, holder: str) -> ReleaseResult:
        """
        Release the lock on ``key`` if ``holder`` holds it.

        :param key: the resource key.
        :param holder: the instance id of the run asking.
        :raises LockKeyError: if ``key`` is not a valid resource key.
        """
        _check_key(key)
        changed = self._expire(self._clock.seconds())
        current = self._locks.get(key)
        result: ReleaseResult
        if current is None:
            result = Refused(key, NOT_HELD)
        elif current.holder != holder:
            result = Refused(key, HELD_BY_ANOTHER)
        else:
            del self._locks[key]
            self._waits.pop(holder, None)
            changed = True
            result = Released(key)
        if changed:
            self._notify()
        return result

    def heartbeat(self, key: str, holder: str) -> HeartbeatResult:
        """
        Restart the TTL of the lock on ``key`` if ``holder`` holds it.

        A lock that has already expired is free, so its former holder is
        refused and has to acquire it again (under a new fencing token).

        :param key: the resource key.
        :param holder: the instance id of the run asking.
        :raises LockKeyError: if ``key`` is not a valid resource key.
        """
        _check_key(key)
        now = self._clock.seconds()
        changed = self._expire(now)
        current = self._locks.get(key)
        result: HeartbeatResult
        if current is None:
            result = Refused(key, NOT_HELD)
        elif current.holder != holder:
            result = Refused(key, HELD_BY_ANOTHER)
        else:
            lock = evolve(current, expires_at=now + self._ttl)
            self._locks[key] = lock
            changed = True
            result = Extended(key, lock.expires_at)
        if changed:
            self._notify()
        return result

    def release_all(self, holder: str) -> list[str]:
        """
        Free every lock ``holder`` holds and forget what it waits for; the
        scheduler calls this when a run exits, however it exits.

        :param holder: the instance id of the run that exited.
        :returns: the keys released, sorted; locks that had already expired
            are not among them.
        """
        changed = self._expire(self._clock.seconds())
        keys = sorted(k for k, lock in self._locks.items() if lock.holder == holder)
        for key in keys:
            del self._locks[key]
        self._waits.pop(holder, None)
        if changed or keys:
            self._notify()
        return keys

    def active(self) -> list[LockInfo]:
        """
        The locks held now, sorted by key, after dropping expired ones.
        """
        if self._expire(self._clock.seconds()):
            self._notify()
        return [self._locks[key] for key in sorted(self._locks)]

    def held_by(self, holder: str) -> list[LockInfo]:
        """
        The locks ``holder`` holds now, sorted by key.

        :param holder: an instance id.
        """
        return [lock for lock in self.active() if lock.holder == holder]

    def add_listener(self, fn: Callable[[], None]) -> None:
        """
        Call ``fn`` with no arguments after every change to the locks held.

        A listener that raises is logged and does not stop the others, nor
        undo the change.

        :param fn: the listener, typically one that publishes lock status.
        """
        self._listeners.append(fn)

    def _expire(self, now: float) -> bool:
        """
        Drop every lock whose TTL ran out at or before ``now``.

        :returns: whether any lock was dropped.
        """
        expired = [k for k, lock in self._locks.items() if lock.expires_at <= now]
        for key in expired:
            del self._locks[key]
        return bool(expired)

    def _grant(
        self,
        key: str,
        holder: str,
        agent: str,
        now: float,
        current: LockInfo | None,
    ) -> LockInfo:
        """
        Give ``key`` to ``holder``, or refresh the TTL of the lock
        ``current`` it already holds, and forget what ``holder`` waits for.
        """
        if current is None:
            self._last_token += 1
            lock = LockInfo(key, holder, agent, now, now + self._ttl, self._last_token)
        else:
            lock = evolve(current, expires_at=now + self._ttl)
        self._locks[key] = lock
        self._waits.pop(holder, None)
        return lock

    def _refuse(self, key: str, waiter: str, current: LockInfo) -> AcquireResult:
        """
        Refuse ``key`` to ``waiter`` because ``current`` holds it, recording
        the wait unless it would close a cycle.
        """
        cycle = self._cycle_through(waiter, current.holder)
        if cycle is not None:
            return DeadlockDetected(key, cycle)
        self._waits.setdefault(waiter, set()).add(key)
        return HeldByAnother(key, current.holder, current.held_since)

    def _cycle_through(self, waiter: str, holder: str) -> tuple[str, ...] | None:
        """
        Find the shortest chain of waits leading from ``holder`` back to
        ``waiter``.

        :returns: the cycle ``waiter``, ``holder``, ... (each waiting for the
            next, the last for ``waiter``), or ``None`` if there is none.
        """
        came_from = {holder: waiter}
        queue = deque([holder])
        while queue:
            instance = queue.popleft()
            for key in sorted(self._waits.get(instance, ())):
                lock = self._locks.get(key)
                if lock is None or lock.holder in came_from:
                    continue
                if lock.holder == waiter:
                    chain = [instance]
                    while chain[-1] != waiter:
                        chain.append(came_from[chain[-1]])
                    return tuple(reversed(chain))
                came_from[lock.holder] = instance
                queue.append(lock.holder)
        return None

    def _notify(self) -> None:
        """
        Call every listener, logging any that raises.
        """
        for fn in self._listeners:
            with self._log.failuresHandled(
                "While telling {listener!r} that the lock table changed:",
                listener=fn,
            ):
                fn()
