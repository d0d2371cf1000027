"""
The gateway's authentication layer: a wrapper resource around each
protected tree, so no route can forget to check.

A request is let through if it carries the gateway API key as
``Authorization: Bearer <key>`` (compared in constant time), or a valid
login session cookie. Otherwise an HTML request is redirected to ``/login``
and anything else gets a JSON 401 with ``WWW-Authenticate``. A request that
came with the cookie and changes state must also come from the gateway's own
pages (``same_origin``).

The key is re-read whenever its file changes, so ``al doctor
--regenerate-key`` takes effect without a restart; a changed key ends every
session.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from urllib.parse import urlsplit

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET

from ..credentials import CredentialStore
from ._json import json_error

SESSION_COOKIE = b"al_session"

#: ``Sec-Fetch-Site`` values that mean another site sent the request.
_FOREIGN_FETCH_SITES = (b"cross-site", b"same-site")

_DEFAULT_PORTS = {"http": 80, "https": 443}


@frozen
class Principal:
    """
    Who a request is authenticated as.

    :ivar via: ``"bearer"`` (the API key) or ``"session"`` (a login cookie).
    :ivar session_id: the session's id, for ``"session"``.
    """

    via: str
    session_id: str | None = None


class KeyWatcher:
    """
    The current gateway API key, re-read when its file changes.

    :param credentials: the store holding the key.
    :param on_rotate: called after the key changed (sessions end there).
    """

    log = Logger()

    def __init__(
        self,
        credentials: CredentialStore,
        on_rotate: Callable[[], None] = lambda: None,
    ) -> None:
        self._path = credentials.gateway_key_path()
        self._credentials = credentials
        self._on_rotate = on_rotate
        self._stamp: tuple[int, int, int] | None = None
        self._key: bytes | None = None

    def current(self) -> bytes | None:
        """
        The key as bytes, or ``None`` if there is none.
        """
        try:
            st = os.stat(self._path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            key = self._credentials.gateway_key()
            new = key.encode("utf-8") if key else None
            if self._stamp is not None and new != self._key:
                self.log.info("The gateway API key changed; ending every session")
                self._on_rotate()
            self._stamp, self._key = stamp, new
        return self._key

    def matches(self, candidate: bytes) -> bool:
        """
        Whether ``candidate`` is the current key, compared in constant time.
        """
        key = self.current()
        return key is not None and hmac.compare_digest(key, candidate)

    def key_id(self) -> str | None:
        """
        A name for the current key that reveals nothing of it (a truncated
        hash), stored with each session so that sessions made under another
        key can be recognised; ``None`` if there is no key.
        """
        key = self.current()
        if key is None:
            return None
        return hashlib.sha256(b"action-llama gateway key id\0" + key).hexdigest()[:32]


class Authenticator:
    """
    Decides who a request comes from.

    :param keys: the API key.
    :param session_lookup: given a session cookie value, the session id if it
        is valid now (and touched as used), else ``None``.
    :param sessions_loading: gives a Deferred to wait on while the sessions
        are still being loaded (``session_lookup`` cannot answer yet), or
        ``None`` once they are.
    """

    def __init__(
        self,
        keys: KeyWatcher,
        session_lookup: Callable[[str], str | None] = lambda cookie: None,
        sessions_loading: Callable[[], Deferred[None] | None] = lambda: None,
    ) -> None:
        self.keys = keys
        self._session_lookup = session_lookup
        self._sessions_loading = sessions_loading

    def principal(self, request: IRequest) -> Principal | None:
        """
        Who ``request`` is authenticated as, or ``None``.
        """
        header = request.getHeader(b"authorization")
        if header:
            scheme, _, token = header.partition(b" ")
            if scheme.lower() == b"bearer" and self.keys.matches(token.strip()):
                return Principal("bearer")
            return None
        cookie = request.getCookie(SESSION_COOKIE)
        if cookie:
            # Reading the key notices a rotation, which ends every session
            # before this one is looked up.
            self.keys.current()
            session_id = self._session_lookup(cookie.decode("ascii", "replace"))
            if session_id is not None:
                return Principal("session", session_id)
        return None

    def not_ready(self, request: IRequest) -> Deferred[None] | None:
        """
        A Deferred to wait on before ``principal`` can judge ``request``
        (it relies on a session, and the sessions are still being loaded),
        or ``None`` if it can be judged now.
        """
        if request.getHeader(b"authorization") or not request.getCookie(SESSION_COOKIE):
            return None
        return self._sessions_loading()


def wants_html(request: IRequest) -> bool:
    """
    Whether the client is a browser asking for a page.
    """
    accept = request.getHeader(b"accept") or b""
    return b"text/html" in accept


def foreign(request: IRequest) -> str | None:
    """
    Why ``request`` looks sent by another site, or ``None`` if nothing says
    so: ``Sec-Fetch-Site`` is ``cross-site`` or ``same-site``, or ``Origin``
    names another host and port than ``Host``.

    A ``Host`` without a port is taken to use the default port of the
    ``Origin``'s scheme, so the check holds behind a TLS-terminating proxy.
    """
    fetch_site = (request.getHeader(b"sec-fetch-site") or b"").strip().lower()
    if fetch_site in _FOREIGN_FETCH_SITES:
        return f"Sec-Fetch-Site is {fetch_site.decode('ascii', 'replace')}"
    origin = request.getHeader(b"origin")
    if origin is None:
        return None
    shown = origin.decode("ascii", "replace")[:200]
    try:
        parts = urlsplit(origin.decode("ascii"))
        scheme = parts.scheme.lower()
        origin_at = (parts.hostname, parts.port or _DEFAULT_PORTS.get(scheme))
        host = urlsplit("//" + (request.getHeader(b"host") or b"").decode("ascii"))
        host_at = (host.hostname, host.port or _DEFAULT_PORTS.get(scheme))
    except (UnicodeDecodeError, ValueError):
        return f"Origin {shown!r} cannot be compared with Host"
    if origin_at[0] is None or origin_at != host_at:
        return f"Origin {shown!r} is not this gateway"
    return None


def same_origin(request: IRequest, principal: Principal) -> bytes | None:
    """
    The check ``Protected`` applies by default: a request authenticated by
    the session cookie that may change state (any method but GET and HEAD)
    must come from the gateway's own pages; Bearer requests are not browser
    requests and pass.

    :returns: a JSON 403 answer, or ``None`` to go on.
    """
    if principal.via != "session" or request.method in (b"GET", b"HEAD"):
        return None
    reason = foreign(request)
    if reason is None:
        return None
    return json_error(
        request,
        403,
        f"this request came from another site ({reason}); use the dashboard's "
        "own pages, or send 'Authorization: Bearer <key>'",
    )


class Protected(Resource):
    """
    Wraps a tree so that only authenticated requests reach it.

    It is a leaf: the wrapped tree (a Klein resource) routes from the
    request's remaining path itself, so the check here covers every route
    below, whatever its depth. A request that relies on a session cookie
    while the sessions are still being loaded (just after start) waits for
    them instead of being refused.

    :param wrapped: the protected tree.
    :param auth: decides who the request comes from.
    :param check: a further check once authenticated; it returns an answer
        to refuse the request with, or ``None`` to go on. By default, the
        same-origin rule for cookie requests that change state.
    """

    isLeaf = True

    def __init__(
        self,
        wrapped: IResource,
        auth: Authenticator,
        check: Callable[[IRequest, Principal], bytes | None] = same_origin,
    ) -> None:
        super().__init__()
        self._wrapped = wrapped
        self._auth = auth
        self._check = check

    def render(self, request: IRequest) -> bytes | int:
        waiting = self._auth.not_ready(request)
        if waiting is None:
            return self._answer(request)
        gone: list[Failure] = []
        # IRequest does not declare notifyFinish; every server request has it.
        request.notifyFinish().addErrback(gone.append)  # type: ignore[attr-defined]
        waiting.addCallback(lambda _: self._answer_late(request, gone))
        return NOT_DONE_YET

    def _answer(self, request: IRequest) -> bytes | int:
        """
        Authenticate ``request`` and hand it to the wrapped tree, or refuse it.
        """
        principal = self._auth.principal(request)
        if principal is None:
            return refuse(request)
        refused = self._check(request, principal)
        if refused is not None:
            return refused
        request.principal = principal  # type: ignore[attr-defined]
        body: bytes | int = self._wrapped.render(request)
        return body

    def _answer_late(self, request: IRequest, gone: list[Failure]) -> None:
        """
        Answer ``request`` once the sessions are loaded, unless its client
        has gone meanwhile.
        """
        if gone:
            return
        body = self._answer(request)
        if body is not NOT_DONE_YET:
            assert isinstance(body, bytes)
            request.write(body)
            request.finish()


def refuse(request: IRequest) -> bytes:
    """
    Answer an unauthenticated request: browsers are sent to the login page,
    everything else gets a JSON 401.
    """
    if wants_html(request) and request.method in (b"GET", b"HEAD"):
        request.setResponseCode(302)
        request.setHeader(b"location", b"/login")
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return b'<a href="/login">Log in</a>'
    request.setHeader(b"www-authenticate", b'Bearer realm="action-llama"')
    return json_error(
        request,
        401,
        "authentication required: send 'Authorization: Bearer <key>' with the "
        "key from ~/.action-llama/credentials/gateway_api_key/default/key, "
        "or log in at /login",
    )
