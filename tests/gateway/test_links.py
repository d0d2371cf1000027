"""
One-time login links on a real gateway: issued through the API or logged at
start, good for one login within ten minutes.
"""

from __future__ import annotations

import re

import pytest_twisted
from twisted.logger import capturedLogs, formatEvent, globalLogPublisher

from action_llama.gateway.sessions import LINK_LIFETIME
from tests.gateway.conftest import Launcher
from tests.gateway.support import Gateway, LogWatch


@pytest_twisted.ensureDeferred
async def test_link_logs_in_once(gateway: Gateway) -> None:
    """
    A link from POST /api/auth/link logs a browser in, with the cookie and a
    303 to /dashboard; used again, it shows the form with 401 and a message.
    """
    link = await gateway.issue_link()
    first = await gateway.request("GET", link)
    assert first.code == 303
    assert first.header("location") == "/dashboard"
    session = first.session()
    status = await gateway.request("GET", "/control/status", cookie=session)
    assert status.code == 200

    second = await gateway.request("GET", link)
    assert second.code == 401
    assert second.header("set-cookie") is None
    assert "has been used already or has expired" in second.text
    assert "al dashboard" in second.text


@pytest_twisted.ensureDeferred
async def test_link_expires_after_ten_minutes(gateway: Gateway) -> None:
    """
    A link unused for ten minutes no longer logs in; one used just before
    that still does.
    """
    late = await gateway.issue_link()
    in_time = await gateway.issue_link()
    gateway.clock.advance(LINK_LIFETIME - 1)
    assert (await gateway.request("GET", in_time)).code == 303
    gateway.clock.advance(1)
    assert (await gateway.request("GET", late)).code == 401


@pytest_twisted.ensureDeferred
async def test_link_answer_names_the_gateway(gateway: Gateway) -> None:
    """
    The link API answers with a full URL on the address the client used, a
    token that is not the key, and how long it lasts.
    """
    answer = await gateway.request("POST", "/api/auth/link", key=gateway.key)
    body = answer.json()
    assert body["ok"] is True and body["expiresIn"] == 600
    match = re.fullmatch(
        re.escape(gateway.base) + r"/login\?token=([\w-]+)", body["url"]
    )
    assert match and match.group(1) != gateway.key
    assert gateway.key not in answer.text


@pytest_twisted.ensureDeferred
async def test_link_is_not_given_without_credentials(gateway: Gateway) -> None:
    """
    Nobody gets a link without the key or a session; GET is not a way to
    issue one.
    """
    assert (await gateway.request("POST", "/api/auth/link")).code == 401
    answer = await gateway.request("GET", "/api/auth/link", key=gateway.key)
    assert answer.code == 405


@pytest_twisted.ensureDeferred
async def test_token_stays_out_of_the_access_log(launch: Launcher) -> None:
    """
    The access log records the path of a link request, not its query string.
    """
    gateway = await launch(log_requests=True)
    link = await gateway.issue_link()
    token = link.rsplit("=", 1)[1]
    with capturedLogs() as events:
        await gateway.request("GET", link)
    access = [e for e in events if e.get("log_namespace", "").endswith(".access")]
    assert [formatEvent(e) for e in access] == ["GET /login 303"]
    assert all(token not in formatEvent(e) for e in events)


@pytest_twisted.ensureDeferred
async def test_start_with_web_ui_logs_a_login_link(launch: Launcher) -> None:
    """
    With the web UI on, the service logs a one-time login link at start; it
    logs a browser in, and it is not the key.
    """
    watch = LogWatch()
    globalLogPublisher.addObserver(watch)
    try:
        gateway = await launch(web_ui=True)
        line = await watch.wait_for("Dashboard login link")
    finally:
        globalLogPublisher.removeObserver(watch)
    prefix = "Dashboard login link (single use, 10 minutes): " + gateway.base
    assert line.startswith(prefix + "/login?token=")
    assert gateway.key not in line
    answer = await gateway.request("GET", line.removeprefix(prefix))
    assert answer.code == 303
    answer.session()
    assert len([x for x in watch.lines if "login link" in x]) == 1
