"""
The gateway's authentication layer: a wrapper resource around each
protected tree, so no route can forget to check.

A request is let through if it carries the gateway API key as
``Authorization: Bearer <key>`` (compared in constant time), or a valid
login session cookie. Otherwise an HTML request is redirected to ``/login``
and anything else gets a JSON 401 with ``WWW-Authenticate``.

The key is re-read whenever its file changes, so ``al doctor
--regenerate-key`` takes effect without a restart; a changed key ends every
session.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from typing import Any

from attrs import frozen
from twisted.logger import Logger
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource

from ..credentials import CredentialStore
from ._json import json_error

SESSION_COOKIE = b"al_session"


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


class Authenticator:
    """
    Decides who a request comes from.

    :param keys: the API key.
    :param session_lookup: given a session cookie value, the session id if it
        is valid now (and touched as used), else ``None``.
    """

    def __init__(
        self,
        keys: KeyWatcher,
        session_lookup: Callable[[str], str | None] = lambda cookie: None,
    ) -> None:
        self.keys = keys
        self._session_lookup = session_lookup

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
            session_id = self._session_lookup(cookie.decode("ascii", "replace"))
            if session_id is not None:
                return Principal("session", session_id)
        return None


def wants_html(request: IRequest) -> bool:
    """
    Whether the client is a browser asking for a page.
    """
    accept = request.getHeader(b"accept") or b""
    return b"text/html" in accept


class Protected(Resource):
    """
    Wraps a tree so that only authenticated requests reach it.

    It is a leaf: the wrapped tree (a Klein resource) routes from the
    request's remaining path itself, so the check here covers every route
    below, whatever its depth.

    :param wrapped: the protected tree.
    :param auth: decides who the request comes from.
    :param check: a further check once authenticated (same-origin rules for
        cookie requests that change state); it returns an error resource to
        answer with, or ``None`` to go on.
    """

    isLeaf = True

    def __init__(
        self,
        wrapped: IResource,
        auth: Authenticator,
        check: Callable[[IRequest, Principal], bytes | None] | None = None,
    ) -> None:
        super().__init__()
        self._wrapped = wrapped
        self._auth = auth
        self._check = check

    def render(self, request: IRequest) -> Any:
        principal = self._auth.principal(request)
        if principal is None:
            return refuse(request)
        if self._check is not None:
            refused = self._check(request, principal)
            if refused is not None:
                return refused
        request.principal = principal  # type: ignore[attr-defined]
        return self._wrapped.render(request)


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
