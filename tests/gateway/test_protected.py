"""
Every protected route of a real gateway, asked without credentials, with a
wrong key, with the key, and with a session cookie.
"""

from __future__ import annotations

import pytest_twisted

from tests.gateway.support import PROTECTED, Gateway


async def _codes(
    gateway: Gateway, headers: dict[str, str] | None = None, **auth: str
) -> dict[tuple[str, str], int]:
    """
    The status each protected route answers with, for the same credentials.
    """
    codes = {}
    for method, path in PROTECTED:
        answer = await gateway.request(method, path, headers=headers, **auth)
        codes[method, path] = answer.code
    return codes


@pytest_twisted.ensureDeferred
async def test_no_credentials_get_a_json_401(gateway: Gateway) -> None:
    """
    A request without credentials gets 401 with a JSON error and a Bearer
    challenge, on every protected route.
    """
    for method, path in PROTECTED:
        answer = await gateway.request(method, path)
        assert answer.code == 401, (method, path)
        assert answer.header("content-type") == "application/json"
        assert answer.header("www-authenticate") == 'Bearer realm="action-llama"'
        assert "/login" in answer.json()["error"]


@pytest_twisted.ensureDeferred
async def test_browser_without_credentials_is_sent_to_login(gateway: Gateway) -> None:
    """
    A browser asking for a protected page without credentials is redirected to
    /login.
    """
    accept = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for method, path in PROTECTED:
        if method != "GET":
            continue
        answer = await gateway.request(method, path, headers=accept)
        assert (answer.code, answer.header("location")) == (302, "/login"), path


@pytest_twisted.ensureDeferred
async def test_wrong_key_gets_401(gateway: Gateway) -> None:
    """
    A Bearer token that is not the key gets 401 everywhere, and does not fall
    back to a valid cookie sent beside it.
    """
    cookie = await gateway.log_in()
    assert set((await _codes(gateway, key="not-the-key")).values()) == {401}
    wrong_with_cookie = await _codes(gateway, key="not-the-key", cookie=cookie)
    assert set(wrong_with_cookie.values()) == {401}


@pytest_twisted.ensureDeferred
async def test_key_is_let_through(gateway: Gateway) -> None:
    """
    The API key as a Bearer token reaches every protected route.
    """
    assert set((await _codes(gateway, key=gateway.key)).values()) == {200}


@pytest_twisted.ensureDeferred
async def test_session_cookie_is_let_through(gateway: Gateway) -> None:
    """
    A session cookie from a login reaches every protected route, for state
    changes too when they come from the gateway's own origin.
    """
    cookie = await gateway.log_in()
    own = {"Origin": gateway.base, "Sec-Fetch-Site": "same-origin"}
    assert set((await _codes(gateway, cookie=cookie)).values()) == {200}
    assert set((await _codes(gateway, own, cookie=cookie)).values()) == {200}


@pytest_twisted.ensureDeferred
async def test_unknown_cookie_gets_401(gateway: Gateway) -> None:
    """
    A cookie that names no session is refused like no credentials at all.
    """
    codes = await _codes(gateway, cookie="x" * 43)
    assert set(codes.values()) == {401}
    assert set((await _codes(gateway, cookie="x" * 5000)).values()) == {401}
