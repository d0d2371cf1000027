"""
Deduplication of deliveries by the provider's own id, against the real
gateway: concurrent and restarted copies run once, forged or refused copies
never block the real delivery, Slack retries run once, and Slack's
five-minute window is enforced.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList, fail

from action_llama.store import Database
from action_llama.store._receipts import NewReceipt, ReceiptStore

from .webhook_harness import (
    SECRETS,
    Delivery,
    Gateway,
    Services,
    github_delivery,
    only,
    slack_delivery,
    slack_headers,
    store_secret,
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


def dedupe_project(root: Path) -> Path:
    """
    A signed GitHub source and a signed Slack source, each with one agent
    that every delivery of it matches.
    """
    return write_webhook_project(
        root,
        {"github": ("github", "test"), "slack": ("slack", "test")},
        {
            "on-github": {"webhooks": [{"source": "github"}]},
            "on-slack": {"webhooks": [{"source": "slack"}]},
        },
    )


async def start(services: Services, root: Path | None = None) -> Gateway:
    """
    Store the GitHub and Slack secrets and start `dedupe_project` (or the
    project already at ``root``).
    """
    store_secret("github")
    store_secret("slack")
    return await services.start(root or dedupe_project(services.tmp_path / "p"))


async def agent_triggers(gateway: Gateway, agent: str) -> list[dict[str, Any]]:
    """
    The trigger history entries of ``agent``.
    """
    return [t for t in await gateway.triggers() if t["agentName"] == agent]


@pytest_twisted.ensureDeferred
async def test_concurrent_copies_run_once(services: Services) -> None:
    """
    A hundred copies of one delivery sent at once start exactly one run;
    the 99 others are answered as duplicates of the first receipt.
    """
    gateway = await start(services)
    sent = github_delivery()
    results = await DeferredList(
        [
            Deferred.fromCoroutine(gateway.deliver("/webhooks/github", sent))
            for _ in range(100)
        ],
        fireOnOneErrback=True,
        consumeErrors=True,
    )
    bodies = [answer.json() for _, answer in results]
    assert {answer.code for _, answer in results} == {200}
    first = only([b for b in bodies if not b.get("duplicate")])
    duplicates = [b for b in bodies if b.get("duplicate")]
    assert first["started"] == ["on-github"]
    assert len(duplicates) == 99
    assert {b["receiptId"] for b in duplicates} == {first["receiptId"]}
    await gateway.settled()
    assert len(await agent_triggers(gateway, "on-github")) == 1
    assert gateway.seen_count() == 1


@pytest_twisted.ensureDeferred
async def test_copy_after_restart_is_a_duplicate(services: Services) -> None:
    """
    A delivery sent again after the service restarted is answered as a
    duplicate of the first receipt, and does not run again.
    """
    gateway = await start(services)
    sent = github_delivery()
    first = (await gateway.deliver("/webhooks/github", sent)).json()
    await gateway.settled()
    await services.stop(gateway)
    gateway = await start(services, gateway.root)
    again = await gateway.deliver("/webhooks/github", sent)
    assert again.code == 200
    assert again.json() == {
        "ok": True,
        "duplicate": True,
        "receiptId": first["receiptId"],
    }
    assert len(await agent_triggers(gateway, "on-github")) == 1


@pytest_twisted.ensureDeferred
async def test_forged_copy_sent_first_does_not_block_the_real_one(
    services: Services,
) -> None:
    """
    An unsigned copy carrying a real delivery id is refused, and the signed
    delivery that follows it is processed, not taken for a duplicate.
    """
    gateway = await start(services)
    real = github_delivery()
    forged = github_delivery(secret=None, delivery_id=real.delivery_id)
    refused = await gateway.deliver("/webhooks/github", forged)
    accepted = await gateway.deliver("/webhooks/github", real)
    assert refused.code == 401
    assert accepted.code == 200
    assert "duplicate" not in accepted.json()
    assert accepted.json()["started"] == ["on-github"]
    run = (await gateway.runs_of(accepted.json()["receiptId"]))["on-github"]
    assert (await gateway.seen(run))["context"]["event"] == "issues"


@pytest_twisted.ensureDeferred
async def test_redelivery_after_the_secret_is_fixed_is_processed(
    services: Services,
) -> None:
    """
    A delivery refused because the stored secret was wrong is processed
    when redelivered after the credential is corrected, without a restart.
    """
    store_secret("github", {"secret": "a-stale-secret"})
    gateway = await services.start(dedupe_project(services.tmp_path / "p"))
    sent = github_delivery()
    refused = await gateway.deliver("/webhooks/github", sent)
    store_secret("github")
    accepted = await gateway.deliver("/webhooks/github", sent)
    assert refused.code == 401
    assert accepted.code == 200
    assert accepted.json()["started"] == ["on-github"]
    await gateway.settled()
    assert gateway.seen_count() == 1


@pytest_twisted.ensureDeferred
async def test_redelivery_after_a_failed_dispatch_is_processed(
    services: Services,
) -> None:
    """
    A delivery whose receipt was stored but whose dispatch failed (the
    database refused the queue write) is not acknowledged, and its
    redelivery is dispatched rather than answered as a duplicate.
    """
    gateway = await start(services)
    code, _ = await gateway.api("POST", "/control/pause")
    assert code == 200
    store = gateway.running.scheduler.store
    store.enqueue = lambda item, bound: fail(  # type: ignore[method-assign]
        sqlite3.OperationalError("disk I/O error")
    )
    sent = github_delivery()
    failed = await gateway.deliver("/webhooks/github", sent)
    del store.enqueue
    retried = await gateway.deliver("/webhooks/github", sent)
    assert failed.code >= 500
    assert retried.code == 200
    assert retried.json().get("queued") == ["on-github"], retried.json()


def slack_retry(original: Delivery, number: int) -> Delivery:
    """
    Slack's retry of ``original``: the same body, signed anew, with the
    retry headers.
    """
    headers = slack_headers(original.body, SECRETS["slack"]["secret"], int(time.time()))
    headers["X-Slack-Retry-Num"] = str(number)
    headers["X-Slack-Retry-Reason"] = "http_timeout"
    return Delivery(original.body, headers, original.delivery_id)


@pytest_twisted.ensureDeferred
async def test_slack_retries_of_one_event_run_once(services: Services) -> None:
    """
    Slack's retries of one ``event_id`` are duplicates of the first
    delivery: one run.
    """
    gateway = await start(services)
    sent = slack_delivery(SECRETS["slack"]["secret"])
    first = await gateway.deliver("/webhooks/slack", sent)
    retries = [
        await gateway.deliver("/webhooks/slack", slack_retry(sent, n)) for n in (1, 2)
    ]
    assert first.json()["started"] == ["on-slack"]
    for retry in retries:
        assert retry.code == 200
        assert retry.json()["duplicate"] is True
        assert retry.json()["receiptId"] == first.json()["receiptId"]
    await gateway.settled()
    assert len(await agent_triggers(gateway, "on-slack")) == 1


@pytest_twisted.ensureDeferred
async def test_slack_timestamp_window_is_five_minutes(services: Services) -> None:
    """
    A Slack request signed 299 seconds ago is accepted; one signed 301
    seconds ago gets 401 and is a ``stale`` dead letter.
    """
    gateway = await start(services)
    secret = SECRETS["slack"]["secret"]
    now = time.time()
    fresh = slack_delivery(secret, stamp=math.ceil(now) - 299)
    stale = slack_delivery(secret, stamp=math.floor(now) - 301)
    accepted = await gateway.deliver("/webhooks/slack", fresh)
    refused = await gateway.deliver("/webhooks/slack", stale)
    assert accepted.code == 200, accepted
    assert accepted.json()["started"] == ["on-slack"]
    assert refused.code == 401, refused
    [dead] = await gateway.triggers(dead_letter=True)
    assert dead["webhookReceiptId"] == refused.json()["receiptId"]
    assert dead["deadLetterReason"] == "stale"


@pytest_twisted.ensureDeferred
async def test_receipt_stored_but_never_dispatched_runs_after_restart(
    services: Services,
) -> None:
    """
    A delivery that was stored and acknowledged by a service that died
    before dispatching it is dispatched when the service starts again.
    """
    root = dedupe_project(services.tmp_path / "p")
    (root / ".al").mkdir()
    db = Database(str(root / ".al" / "action-llama.db"), reactor)
    await db.start()
    sent = github_delivery()
    receipt_id = await ReceiptStore(db).add(
        NewReceipt(
            received_at=time.time(),
            provider="github",
            source="github",
            delivery_id=sent.delivery_id,
            verdict="verified",
            headers={k.lower(): v for k, v in sent.headers.items()},
            body=sent.body,
            event="push",
            matched=("on-github",),
        )
    )
    await db.close()
    gateway = await start(services, root)
    await gateway.running.until(
        lambda: not gateway.running.idle("on-github"), "the lost delivery to run"
    )
    await gateway.settled()
    triggers = await agent_triggers(gateway, "on-github")
    assert [t["webhookReceiptId"] for t in triggers] == [receipt_id]
    assert triggers[0]["result"] == "completed"
