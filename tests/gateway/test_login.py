"""
Logging in and out of a real gateway: the form, the JSON twins, the cookie,
and the throttle on failed attempts.
"""

from __future__ import annotations

import pytest_twisted
from twisted.logger import capturedLogs, formatEvent

from tests.gateway.conftest import Launcher
from tests.gateway.support import KEY_PATH, Gateway

FAILURE_WINDOW = 300


@pytest_twisted.ensureDeferred
async def test_login_page_is_a_self_contained_form(gateway: Gateway) -> None:
    """
    GET /login serves an HTML form for the key, with no external assets, that
    says where the key lives and that `al dashboard` prints a link.
    """
    answer = await gateway.request("GET", "/login")
    assert answer.code == 200
    assert answer.header("content-type") == "text/html; charset=utf-8"
    assert answer.header("cache-control") == "no-store"
    assert "default-src 'none'" in (answer.header("content-security-policy") or "")
    page = answer.text
    assert '<html lang="en">' in page
    assert 'name="viewport"' in page
    assert '<form method="post" action="/login">' in page
    assert '<label for="key">' in page and 'id="key" name="key"' in page
    assert KEY_PATH in page and "al dashboard" in page
    assert "<style>" in page
    for external in ("src=", "<link", "<script", "http://", "https://"):
        assert external not in page


@pytest_twisted.ensureDeferred
async def test_form_login_sets_the_cookie_and_redirects(gateway: Gateway) -> None:
    """
    Posting the key sets an HttpOnly, SameSite=Strict, Path=/ session cookie
    (not Secure on loopback) and redirects to /dashboard with 303.
    """
    answer = await gateway.request("POST", "/login", data={"key": gateway.key})
    assert answer.code == 303
    assert answer.header("location") == "/dashboard"
    session = answer.session(secure=False)
    assert answer.header("set-cookie") == (
        f"al_session={session}; HttpOnly; SameSite=Strict; Path=/"
    )
    assert gateway.key not in session and gateway.key not in answer.text
    status = await gateway.request("GET", "/control/status", cookie=session)
    assert status.code == 200


@pytest_twisted.ensureDeferred
async def test_wrong_key_shows_the_form_again(gateway: Gateway) -> None:
    """
    A wrong key gets the form again with 401 and a message, no cookie, and
    no echo of what was typed.
    """
    answer = await gateway.request("POST", "/login", data={"key": "guess-1234"})
    assert answer.code == 401
    assert answer.header("set-cookie") is None
    assert 'role="alert"' in answer.text
    assert "not the gateway API key" in answer.text
    assert "guess-1234" not in answer.text and gateway.key not in answer.text
    assert '<form method="post" action="/login">' in answer.text


@pytest_twisted.ensureDeferred
async def test_key_in_the_query_string_is_not_accepted(gateway: Gateway) -> None:
    """
    The form's key is read from the body only, never from the URL.
    """
    answer = await gateway.request("POST", f"/login?key={gateway.key}", data={})
    assert answer.code == 401
    assert answer.header("set-cookie") is None


@pytest_twisted.ensureDeferred
async def test_json_login_sets_the_cookie(gateway: Gateway) -> None:
    """
    POST /api/auth/login with the key answers {"ok": true} and sets the
    session cookie.
    """
    answer = await gateway.request("POST", "/api/auth/login", json={"key": gateway.key})
    assert answer.code == 200
    assert answer.json() == {"ok": True}
    session = answer.session()
    assert (await gateway.request("GET", "/locks/status", cookie=session)).code == 200


@pytest_twisted.ensureDeferred
async def test_json_login_with_a_wrong_key_gets_401(gateway: Gateway) -> None:
    """
    A wrong key on the JSON route gets a JSON 401 and no cookie; a body
    without a key gets 400.
    """
    wrong = await gateway.request("POST", "/api/auth/login", json={"key": "nope"})
    missing = await gateway.request("POST", "/api/auth/login", json={"id": 1})
    assert wrong.code == 401 and wrong.header("set-cookie") is None
    assert "nope" not in wrong.json()["error"]
    assert missing.code == 400 and "key" in missing.json()["error"]


@pytest_twisted.ensureDeferred
async def test_exposed_gateway_sets_a_secure_cookie(launch: Launcher) -> None:
    """
    A gateway exposed beyond loopback marks the session cookie Secure, on
    login and on logout.
    """
    gateway = await launch(expose=True)
    login = await gateway.request("POST", "/login", data={"key": gateway.key})
    session = login.session(secure=True)
    assert login.header("set-cookie") == (
        f"al_session={session}; HttpOnly; SameSite=Strict; Path=/; Secure"
    )
    logout = await gateway.request("POST", "/api/auth/logout", cookie=session)
    assert logout.header("set-cookie") == (
        "al_session=; HttpOnly; SameSite=Strict; Path=/; Secure; Max-Age=0"
    )


@pytest_twisted.ensureDeferred
async def test_every_login_gets_a_new_session_id(gateway: Gateway) -> None:
    """
    Each login issues a new session id, never the one the browser sent, and
    the session the browser came with ends.
    """
    first = await gateway.log_in()
    second = await gateway.log_in()
    again = await gateway.request(
        "POST", "/login", data={"key": gateway.key}, cookie=first
    )
    third = again.session()
    assert len({first, second, third}) == 3
    assert (await gateway.request("GET", "/control/status", cookie=first)).code == 401
    for session in (second, third):
        status = await gateway.request("GET", "/control/status", cookie=session)
        assert status.code == 200


@pytest_twisted.ensureDeferred
async def test_form_logout_ends_the_session(gateway: Gateway) -> None:
    """
    POST /logout ends the session on the server, clears the cookie and
    redirects to /login.
    """
    session = await gateway.log_in()
    answer = await gateway.request("POST", "/logout", cookie=session)
    assert answer.code == 303
    assert answer.header("location") == "/login"
    assert answer.header("set-cookie") == (
        "al_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    )
    status = await gateway.request("GET", "/control/status", cookie=session)
    assert status.code == 401


@pytest_twisted.ensureDeferred
async def test_json_logout_ends_the_session(gateway: Gateway) -> None:
    """
    POST /api/auth/logout ends the session and answers {"ok": true}; the
    other sessions go on.
    """
    session = await gateway.log_in()
    other = await gateway.log_in()
    answer = await gateway.request("POST", "/api/auth/logout", cookie=session)
    assert (answer.code, answer.json()) == (200, {"ok": True})
    assert (await gateway.request("GET", "/locks/status", cookie=session)).code == 401
    assert (await gateway.request("GET", "/locks/status", cookie=other)).code == 200


@pytest_twisted.ensureDeferred
async def test_failed_logins_are_throttled(gateway: Gateway) -> None:
    """
    After five failed logins (form, JSON and bad link tokens alike) within
    five minutes, every attempt gets 429 with Retry-After, even with the
    right key, until the window has passed.
    """
    await gateway.request("POST", "/login", data={"key": "wrong-1"})
    await gateway.request("POST", "/login", data={"key": "wrong-2"})
    await gateway.request("POST", "/api/auth/login", json={"key": "wrong-3"})
    await gateway.request("POST", "/api/auth/login", json={"key": "wrong-4"})
    fifth = await gateway.request("GET", "/login?token=not-a-token")
    assert fifth.code == 401

    form = await gateway.request("POST", "/login", data={"key": gateway.key})
    api = await gateway.request("POST", "/api/auth/login", json={"key": gateway.key})
    link = await gateway.request("GET", await gateway.issue_link())
    for answer in (form, api, link):
        assert answer.code == 429
        assert answer.header("retry-after") == str(FAILURE_WINDOW)
        assert answer.header("set-cookie") is None
    assert "try again in 300 seconds" in api.json()["error"]
    assert "try again in 300 seconds" in form.text

    gateway.clock.advance(FAILURE_WINDOW - 1)
    late = await gateway.request("POST", "/login", data={"key": gateway.key})
    assert (late.code, late.header("retry-after")) == (429, "1")

    gateway.clock.advance(1)
    recovered = await gateway.request("POST", "/login", data={"key": gateway.key})
    assert recovered.code == 303
    recovered.session()


@pytest_twisted.ensureDeferred
async def test_a_login_clears_the_failures(gateway: Gateway) -> None:
    """
    A successful login forgets the failures before it, so a mistyped key now
    and then never locks anyone out.
    """
    for attempt in range(4):
        await gateway.request("POST", "/login", data={"key": f"typo-{attempt}"})
    await gateway.log_in()
    for attempt in range(4):
        answer = await gateway.request(
            "POST", "/login", data={"key": f"again-{attempt}"}
        )
        assert answer.code == 401


@pytest_twisted.ensureDeferred
async def test_key_never_reaches_the_logs(launch: Launcher) -> None:
    """
    After logins right and wrong, requests with the key and a key pasted
    into a URL, no log event and no log file of the project holds the key,
    while the access log did record those requests.
    """
    gateway = await launch(log_requests=True)
    key = gateway.key
    with capturedLogs() as events:
        await gateway.request("POST", "/login", data={"key": key})
        await gateway.request("POST", "/login", data={"key": key + "x"})
        await gateway.request("POST", "/api/auth/login", json={"key": key})
        await gateway.request("POST", "/api/auth/login", json={"key": key[:-1]})
        await gateway.request("GET", f"/login?token={key}")
        await gateway.request("GET", f"/control/status?key={key}", key=key)
        await gateway.request("GET", "/control/status", key=key + "x")
    await gateway.stop()
    logs = "".join(
        path.read_text() for path in (gateway.root / ".al" / "logs").glob("*.log")
    )
    logs += "\n".join(formatEvent(event) for event in events)
    assert "GET /control/status 200" in logs
    assert "POST /api/auth/login 401" in logs
    assert key not in logs and key[:-1] not in logs
