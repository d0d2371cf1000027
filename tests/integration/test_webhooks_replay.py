"""
Replaying stored deliveries through ``POST /api/webhooks/<id>/replay``
against the real gateway: a dead letter replayed after the filters changed
runs its agent and is linked to the original; a dry run changes nothing;
refused, unknown and unauthenticated replays are refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_twisted
import treq
from twisted.web.http_headers import Headers

from .harness import within
from .webhook_harness import (
    Gateway,
    Services,
    github_delivery,
    store_secret,
    tampered,
    write_agent_config,
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


def replay_project(root: Path, labels: list[str]) -> Path:
    """
    A signed GitHub source and an agent ``triage`` on its ``issues`` events
    that carry one of ``labels`` (none: every ``issues`` event).
    """
    trigger = {"source": "github", "events": ["issues"]}
    if labels:
        trigger["labels"] = labels
    return write_webhook_project(
        root, {"github": ("github", "test")}, {"triage": {"webhooks": [trigger]}}
    )


async def dead_letter(services: Services) -> tuple[Gateway, str]:
    """
    Start a project whose filter matches nothing, and deliver an issue to
    it.

    :returns: the gateway and the ``no_match`` receipt's id.
    """
    store_secret("github")
    gateway = await services.start(
        replay_project(services.tmp_path / "p", ["no-such-label"])
    )
    answer = await gateway.deliver("/webhooks/github", github_delivery())
    assert answer.json()["deadLetterReason"] == "no_match", answer
    return gateway, answer.json()["receiptId"]


async def with_filter_fixed(services: Services, gateway: Gateway) -> Gateway:
    """
    Stop ``gateway``, let ``triage`` take every issue, and start a new
    service on the same project.
    """
    await services.stop(gateway)
    write_agent_config(
        gateway.root,
        "triage",
        {"webhooks": [{"source": "github", "events": ["issues"]}]},
    )
    return await services.start(gateway.root)


@pytest_twisted.ensureDeferred
async def test_replay_after_filters_change_runs_and_is_linked(
    services: Services,
) -> None:
    """
    A ``no_match`` dead letter replayed after the agent's filter changed
    runs the agent, and is recorded as a new receipt linked both ways.
    """
    gateway, original = await dead_letter(services)
    [dead] = await gateway.triggers(dead_letter=True)
    assert dead["webhookReceiptId"] == original
    gateway = await with_filter_fixed(services, gateway)
    code, answer = await gateway.api("POST", f"/api/webhooks/{original}/replay")
    assert code == 200, answer
    assert answer["replayOf"] == original
    assert answer["matched"] == ["triage"]
    assert answer["started"] == ["triage"]
    replay = answer["receiptId"]
    assert replay != original
    assert (await gateway.receipt(original))["replays"] == [replay]
    assert (await gateway.receipt(replay))["replayOf"] == original
    runs = await gateway.runs_of(replay)
    trigger = await gateway.seen(runs["triage"])
    assert trigger["type"] == "replay"
    assert trigger["receiptId"] == replay
    assert trigger["context"]["event"] == "issues"
    [entry] = [t for t in await gateway.triggers() if t["agentName"] == "triage"]
    assert entry["triggerType"] == "replay"


@pytest_twisted.ensureDeferred
async def test_dry_run_reports_matches_and_changes_nothing(
    services: Services,
) -> None:
    """
    ``?dryRun=true`` reports the agents a replay would run, and stores no
    receipt and starts no run.
    """
    gateway, original = await dead_letter(services)
    gateway = await with_filter_fixed(services, gateway)
    before = await gateway.triggers()
    code, answer = await gateway.api(
        "POST", f"/api/webhooks/{original}/replay?dryRun=true"
    )
    assert code == 200, answer
    assert answer["dryRun"] is True
    assert answer["matched"] == ["triage"]
    assert "started" not in answer
    assert (await gateway.receipt(original))["replays"] == []
    assert await gateway.triggers() == before
    assert gateway.seen_count() == 0


@pytest_twisted.ensureDeferred
async def test_replay_of_a_refused_delivery_is_409(services: Services) -> None:
    """
    A receipt that failed its signature check cannot be replayed: 409 with
    a JSON reason.
    """
    store_secret("github")
    gateway = await services.start(replay_project(services.tmp_path / "p", []))
    refused = await gateway.deliver("/webhooks/github", tampered(github_delivery()))
    assert refused.code == 401
    receipt_id = refused.json()["receiptId"]
    code, answer = await gateway.api("POST", f"/api/webhooks/{receipt_id}/replay")
    assert code == 409
    assert "signature" in answer["error"]
    assert (await gateway.receipt(receipt_id))["replays"] == []
    assert gateway.seen_count() == 0


@pytest_twisted.ensureDeferred
async def test_replay_of_an_unknown_receipt_is_404(services: Services) -> None:
    """
    Replaying (or dry-running) a receipt id that was never stored gets 404
    with a JSON reason.
    """
    gateway = await services.start(replay_project(services.tmp_path / "p", []))
    for query in ("", "?dryRun=true"):
        code, answer = await gateway.api(
            "POST", f"/api/webhooks/0123456789abcdef/replay{query}"
        )
        assert code == 404
        assert "error" in answer


@pytest_twisted.ensureDeferred
async def test_replay_needs_the_api_key(services: Services) -> None:
    """
    A replay without the key, or with a wrong one, gets 401 and replays
    nothing.
    """
    gateway, original = await dead_letter(services)
    gateway = await with_filter_fixed(services, gateway)
    url = f"{gateway.url}/api/webhooks/{original}/replay"
    for headers in (Headers(), Headers({"Authorization": ["Bearer not-the-key"]})):
        response = await within(treq.post(url, headers=headers), "replay")
        body = await within(response.json(), "replay answer")
        assert response.code == 401
        assert "error" in body
    assert (await gateway.receipt(original))["replays"] == []
    assert gateway.seen_count() == 0
