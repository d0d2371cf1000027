"""
The auth wrapper's rules on single requests, without a reactor: waiting for
the sessions to load, and telling requests from other sites apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request
from twisted.web.test.requesthelper import DummyChannel

from action_llama.credentials import CredentialStore
from action_llama.gateway.auth import Authenticator, KeyWatcher, Protected, foreign


class _Inside(Resource):
    """
    Stands for a protected tree.
    """

    isLeaf = True

    def render(self, request: IRequest) -> bytes:
        return b"inside"


def _request(
    method: bytes = b"GET",
    headers: dict[bytes, bytes] | None = None,
    cookie: bytes | None = None,
) -> Request:
    """
    A request as the server would hand it to a resource.
    """
    channel = DummyChannel()
    request = Request(channel)
    request.method = method
    for name, value in (headers or {}).items():
        request.requestHeaders.setRawHeaders(name, [value])
    if cookie is not None:
        request.received_cookies[b"al_session"] = cookie
    return request


def _sent(request: Request) -> Callable[[], bytes]:
    """
    Tells what the server has sent for ``request`` so far, even after the
    request is done with its channel.
    """
    channel: Any = request.channel  # a DummyChannel, whose transport records
    written = channel.transport.written
    return lambda: bytes(written.getvalue())


def _protected(loading: Deferred[None]) -> Protected:
    """
    A wrapper whose one valid session is ``good``, and whose sessions are
    loaded when ``loading`` fires.
    """
    CredentialStore().ensure_gateway_key()
    auth = Authenticator(
        KeyWatcher(CredentialStore()),
        lambda cookie: cookie if cookie == "good" else None,
        lambda: None if loading.called else loading,
    )
    return Protected(_Inside(), auth)


def test_cookie_request_waits_for_the_sessions_to_load() -> None:
    """
    A cookie request that arrives before the sessions are loaded is answered
    once they are, instead of being refused.
    """
    loading: Deferred[None] = Deferred()
    request = _request(cookie=b"good")
    sent = _sent(request)
    assert _protected(loading).render(request) is NOT_DONE_YET
    assert sent() == b""
    loading.callback(None)
    assert request.finished
    assert sent().endswith(b"inside")


def test_bearer_request_does_not_wait_for_the_sessions() -> None:
    """
    A request with the key is judged at once while the sessions load.
    """
    key = CredentialStore().ensure_gateway_key()[0]
    request = _request(headers={b"authorization": b"Bearer " + key.encode()})
    assert _protected(Deferred()).render(request) == b"inside"


def test_waiting_request_whose_client_left_is_dropped() -> None:
    """
    A request whose client has gone while it waited is not answered.
    """
    loading: Deferred[None] = Deferred()
    request = _request(cookie=b"good")
    sent = _sent(request)
    _protected(loading).render(request)
    request.connectionLost(Failure(ConnectionDone()))
    loading.callback(None)
    assert sent() == b""


@pytest.mark.parametrize(
    ("headers", "is_foreign"),
    [
        ({}, False),
        ({b"sec-fetch-site": b"same-origin"}, False),
        ({b"sec-fetch-site": b"none"}, False),
        ({b"sec-fetch-site": b"cross-site"}, True),
        ({b"sec-fetch-site": b"same-site"}, True),
        ({b"origin": b"http://127.0.0.1:8080", b"host": b"127.0.0.1:8080"}, False),
        ({b"origin": b"http://127.0.0.1:8081", b"host": b"127.0.0.1:8080"}, True),
        ({b"origin": b"http://localhost:8080", b"host": b"127.0.0.1:8080"}, True),
        ({b"origin": b"https://al.example.com", b"host": b"al.example.com"}, False),
        ({b"origin": b"http://AL.example.com", b"host": b"al.example.com"}, False),
        ({b"origin": b"http://al.example.com:8080", b"host": b"al.example.com"}, True),
        ({b"origin": b"http://[::1]:8080", b"host": b"[::1]:8080"}, False),
        ({b"origin": b"null", b"host": b"127.0.0.1:8080"}, True),
        ({b"origin": b"http://127.0.0.1:99999", b"host": b"127.0.0.1:8080"}, True),
        ({b"origin": b"http://127.0.0.1:8080"}, True),
    ],
)
def test_foreign_requests_are_recognised(
    headers: dict[bytes, bytes], is_foreign: bool
) -> None:
    """
    A request is foreign when Sec-Fetch-Site says another site sent it, or
    when its Origin names another host and port than its Host.
    """
    assert (foreign(_request(b"POST", headers)) is not None) == is_foreign
