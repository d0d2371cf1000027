"""
The same-origin rule on a real gateway: state changes made with the
session cookie must come from the gateway's own pages.
"""

from __future__ import annotations

import pytest_twisted

from tests.gateway.support import PROTECTED, Gateway

CROSS_SITE = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}


@pytest_twisted.ensureDeferred
async def test_cross_site_cookie_post_is_refused(gateway: Gateway) -> None:
    """
    A cookie POST that the browser marks cross-site or same-site, or whose
    Origin is another site, gets a JSON 403 and changes nothing.
    """
    session = await gateway.log_in()
    refused = [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": gateway.base.replace("127.0.0.1", "localhost")},
    ]
    for headers in refused:
        answer = await gateway.request(
            "POST", "/control/pause", cookie=session, headers=headers
        )
        assert answer.code == 403, headers
        assert "another site" in answer.json()["error"]
    status = await gateway.request("GET", "/control/status", key=gateway.key)
    assert status.json()["schedulerInfo"]["paused"] is False


@pytest_twisted.ensureDeferred
async def test_every_protected_post_follows_the_rule(gateway: Gateway) -> None:
    """
    Each protected route that changes state refuses a cross-site cookie
    request.
    """
    session = await gateway.log_in()
    for method, path in PROTECTED:
        if method == "POST":
            answer = await gateway.request(
                method, path, cookie=session, headers=CROSS_SITE
            )
            assert answer.code == 403, path


@pytest_twisted.ensureDeferred
async def test_same_origin_cookie_post_is_let_through(gateway: Gateway) -> None:
    """
    A cookie POST from the gateway's own origin changes state.
    """
    session = await gateway.log_in()
    answer = await gateway.request(
        "POST",
        "/control/pause",
        cookie=session,
        headers={"Origin": gateway.base, "Sec-Fetch-Site": "same-origin"},
    )
    assert (answer.code, answer.json()["paused"]) == (200, True)


@pytest_twisted.ensureDeferred
async def test_bearer_post_ignores_the_origin(gateway: Gateway) -> None:
    """
    A request with the key is not a browser's, so a foreign Origin does not
    matter.
    """
    answer = await gateway.request(
        "POST", "/control/pause", key=gateway.key, headers=CROSS_SITE
    )
    assert answer.code == 200


@pytest_twisted.ensureDeferred
async def test_cross_site_cookie_get_is_let_through(gateway: Gateway) -> None:
    """
    Reading with the cookie is allowed from anywhere the browser sends it;
    GET routes change nothing.
    """
    session = await gateway.log_in()
    answer = await gateway.request(
        "GET", "/control/status", cookie=session, headers=CROSS_SITE
    )
    assert answer.code == 200


@pytest_twisted.ensureDeferred
async def test_cross_site_logout_is_refused(gateway: Gateway) -> None:
    """
    Another site cannot log a browser out: the session goes on.
    """
    session = await gateway.log_in()
    answer = await gateway.request(
        "POST", "/logout", cookie=session, headers=CROSS_SITE
    )
    assert answer.code == 403
    status = await gateway.request("GET", "/control/status", cookie=session)
    assert status.code == 200
