"""
``GET /api/stats/triggers`` over real deliveries: pages and their bounds,
totals, newest first, the dead-letter filter, and 400 for bad parameters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import pytest_twisted
import treq

from .harness import within
from .webhook_harness import (
    Gateway,
    Services,
    github_delivery,
    store_secret,
    tampered,
    write_webhook_project,
)


@pytest_twisted.async_yield_fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    """
    Services started by one test, stopped after it.
    """
    started = Services(tmp_path)
    yield started
    await started.stop_all()


async def history(services: Services) -> tuple[Gateway, list[str], list[str]]:
    """
    Start a project with one agent on pushes, then send, in turn, deliveries
    that run it, match nothing, and fail their signature: ten in all, seven
    of them dead letters.

    :returns: the gateway, every receipt id in the order sent, and the dead
        letters' among them.
    """
    store_secret("github")
    root = write_webhook_project(
        services.tmp_path / "p",
        {"github": ("github", "test")},
        {"on-push": {"webhooks": [{"source": "github", "events": ["push"]}]}},
    )
    gateway = await services.start(root)
    sent: list[str] = []
    dead: list[str] = []
    for name in ["push.json", "issues.opened.json", "bad"] * 3 + ["ping.json"]:
        delivery = github_delivery(name if name != "bad" else "push.json")
        if name == "bad":
            delivery = tampered(delivery)
        answer = (await gateway.deliver("/webhooks/github", delivery)).json()
        sent.append(answer["receiptId"])
        if name != "push.json":
            dead.append(answer["receiptId"])
    await gateway.settled()
    return gateway, sent, dead


async def page(gateway: Gateway, query: str) -> dict[str, Any]:
    """
    One page of the history, which must be served.
    """
    code, body = await gateway.api("GET", "/api/stats/triggers" + query)
    assert code == 200, body
    return dict(body)


@pytest_twisted.ensureDeferred
async def test_pages_hold_the_whole_history_newest_first(
    services: Services,
) -> None:
    """
    Pages of three, read in turn, give every entry exactly once, newest
    first, each with the total and its own page and limit.
    """
    gateway, sent, _ = await history(services)
    pages = [await page(gateway, f"?page={n}&limit=3") for n in range(1, 6)]
    assert [len(p["triggers"]) for p in pages] == [3, 3, 3, 1, 0]
    assert {p["total"] for p in pages} == {10}
    assert [(p["page"], p["limit"]) for p in pages] == [(n, 3) for n in range(1, 6)]
    entries = [t for p in pages for t in p["triggers"]]
    assert [t["webhookReceiptId"] for t in entries] == sent[::-1]
    assert [t["ts"] for t in entries] == sorted(
        (t["ts"] for t in entries), reverse=True
    )
    results = {t["webhookReceiptId"]: t["result"] for t in entries}
    assert sorted(results.values()) == ["completed"] * 3 + ["dead-letter"] * 7


@pytest_twisted.ensureDeferred
async def test_dead_letter_filter_lists_only_dead_letters(
    services: Services,
) -> None:
    """
    ``deadLetter=true`` lists only the receipts that went nowhere, each with
    its reason, and counts only them.
    """
    gateway, _, dead = await history(services)
    listed = await page(gateway, "?deadLetter=true&limit=100")
    assert listed["total"] == 7
    assert [t["webhookReceiptId"] for t in listed["triggers"]] == dead[::-1]
    assert all(t["result"] == "dead-letter" for t in listed["triggers"])
    reasons = sorted(t["deadLetterReason"] for t in listed["triggers"])
    assert reasons == ["bad_signature"] * 3 + ["no_match"] * 4
    assert (await page(gateway, "?deadLetter=false"))["total"] == 10


@pytest_twisted.ensureDeferred
async def test_limits_and_defaults(services: Services) -> None:
    """
    Without parameters a page is page 1 of 50; limits 1 and 100 are
    accepted; a page past the end is empty but keeps the total.
    """
    gateway, sent, _ = await history(services)
    default = await page(gateway, "")
    assert (default["page"], default["limit"], default["total"]) == (1, 50, 10)
    assert len(default["triggers"]) == 10
    one = await page(gateway, "?limit=1")
    assert [t["webhookReceiptId"] for t in one["triggers"]] == [sent[-1]]
    assert len((await page(gateway, "?limit=100"))["triggers"]) == 10
    far = await page(gateway, "?page=1000&limit=100")
    assert (far["triggers"], far["total"]) == ([], 10)


BAD_QUERIES = [
    "limit=0",
    "limit=101",
    "limit=-1",
    "limit=1.5",
    "limit=",
    "page=0",
    "page=x",
    "page=-3",
    "deadLetter=maybe",
    "deadLetter=",
    "page=" + quote("²"),
    "page=" + "9" * 5000,
]


@pytest.mark.parametrize("query", BAD_QUERIES)
@pytest_twisted.ensureDeferred
async def test_bad_parameters_are_400_json(services: Services, query: str) -> None:
    """
    A page, limit or dead-letter flag out of bounds or not a value gets 400
    with a JSON reason.
    """
    root = write_webhook_project(
        services.tmp_path / "p",
        {"github": ("github", None)},
        {"on-push": {"webhooks": [{"source": "github"}]}},
    )
    gateway = await services.start(root)
    code, body = await gateway.api("GET", "/api/stats/triggers?" + query)
    assert code == 400, body
    assert isinstance(body["error"], str) and body["error"]


@pytest_twisted.ensureDeferred
async def test_history_needs_the_api_key(services: Services) -> None:
    """
    The history without the key gets 401 with a JSON reason.
    """
    root = write_webhook_project(
        services.tmp_path / "p",
        {"github": ("github", None)},
        {"on-push": {"webhooks": [{"source": "github"}]}},
    )
    gateway = await services.start(root)
    response = await within(treq.get(gateway.url + "/api/stats/triggers"), "GET")
    body = await within(response.json(), "the answer")
    assert response.code == 401
    assert "error" in body
