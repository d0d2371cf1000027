"""
The work queue: FIFO order, the bound, pause, and surviving a restart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest_twisted

from action_llama.scheduler import Trigger
from tests.scheduler.support import (
    ON_WEBHOOK,
    ControlledRun,
    Harness,
    Kind,
    OpenHarness,
    agent_of,
    build_project,
)


async def finish_in_turn(harness: Harness, agent: str) -> list[ControlledRun]:
    """
    End ``agent``'s runs one at a time until none is left.

    :returns: every run ended, in the order they ran.
    """
    ended = []
    while live := harness.runtime.live(agent):
        ended.append(live[0])
        await harness.finish(live[0].instance_id)
    return ended


def token(run: ControlledRun) -> Any:
    """
    The ``n`` a test put in a run's context (under ``context`` for a call).
    """
    context = run.trigger["context"]
    return context["context"]["n"] if "caller" in context else context["n"]


@pytest_twisted.ensureDeferred
async def test_queued_work_starts_in_fifo_order(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    Webhook, manual and call work submitted to a busy agent is queued and
    starts in the order it came, one by one as runs end.
    """
    project = build_project(tmp_path, {"boss": ON_WEBHOOK, "worker": ON_WEBHOOK})
    harness = await open_harness(project)
    await harness.submit("boss")
    boss = harness.scheduler.instance(harness.runtime.runs[0].instance_id)
    assert boss is not None

    await harness.submit("worker", "manual", n=0)
    await harness.submit("worker", "webhook", n=1)
    await harness.submit("worker", "manual", n=2)
    await harness.scheduler.call(boss, "worker", {"n": 3})
    await harness.settle()
    await harness.submit("worker", "webhook", n=4)
    queued = agent_of(harness.scheduler.snapshot(), "worker")["queueDepth"]
    ran = await finish_in_turn(harness, "worker")

    assert queued == 4
    assert [token(run) for run in ran] == [0, 1, 2, 3, 4]
    assert [run.trigger["type"] for run in ran] == [
        "manual",
        "webhook",
        "manual",
        "agent-call",
        "webhook",
    ]
    assert await harness.store.queue_depths() == {}


@pytest_twisted.ensureDeferred
async def test_full_queue_drops_the_oldest_and_records_it(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    Work beyond ``maxWorkQueueSize`` pushes out the oldest queued item, which
    is recorded as ``dropped`` in the trigger history and never runs.
    """
    project = build_project(tmp_path, {"worker": "maxWorkQueueSize = 2\n" + ON_WEBHOOK})
    harness = await open_harness(project)

    await harness.submit("worker", n=0)
    admissions = [await harness.submit("worker", "webhook", n=n) for n in (1, 2, 3, 4)]
    history = {t.work_id: t.result for t in await harness.triggers()}
    ran = await finish_in_turn(harness, "worker")

    assert [a.outcome for a in admissions] == ["queued"] * 4
    assert [a.dropped for a in admissions] == [
        (),
        (),
        (admissions[0].work_id,),
        (admissions[1].work_id,),
    ]
    assert [history[a.work_id] for a in admissions[:2]] == ["dropped", "dropped"]
    assert [token(run) for run in ran] == [0, 3, 4]


@pytest_twisted.ensureDeferred
async def test_queued_work_survives_a_restart(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    Work still queued when the service stops runs, in order, after it starts
    again on the same database.
    """
    project = build_project(tmp_path, {"worker": ON_WEBHOOK})
    first = await open_harness(project)
    await first.submit("worker", n=0)
    for n in (1, 2, 3):
        await first.submit("worker", "webhook", n=n)
    await first.close()

    second = await open_harness(project)
    depth = agent_of(second.scheduler.snapshot(), "worker")["queueDepth"]
    ran = await finish_in_turn(second, "worker")

    assert depth == 2
    assert [token(run) for run in ran] == [1, 2, 3]
    assert [run.trigger["type"] for run in ran] == ["webhook"] * 3


@pytest_twisted.ensureDeferred
async def test_pause_holds_work_and_resume_drains_it_in_order(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    While paused, webhook and manual work for an idle agent is held in the
    queue; on resume it starts in the order it came.
    """
    project = build_project(tmp_path, {"worker": "scale = 2\n" + ON_WEBHOOK})
    harness = await open_harness(project)

    kinds: list[Kind] = ["webhook", "manual", "webhook"]
    harness.scheduler.pause()
    admissions = [
        await harness.submit("worker", kind, n=n) for n, kind in enumerate(kinds)
    ]
    held = await harness.queued_contexts("worker")
    started_while_paused = len(harness.runtime.runs)
    harness.scheduler.resume()
    await harness.settle()
    first_two = [token(run) for run in harness.runtime.live()]
    ran = await finish_in_turn(harness, "worker")

    assert [a.outcome for a in admissions] == ["queued"] * 3
    assert held == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert started_while_paused == 0
    assert first_two == [0, 1]
    assert [token(run) for run in ran] == [0, 1, 2]


@pytest_twisted.ensureDeferred
async def test_work_freed_together_starts_in_queue_order(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    When several runners free at once, queued work starts in the order it
    came, calls included.
    """
    project = build_project(
        tmp_path, {"boss": ON_WEBHOOK, "worker": "scale = 3\n" + ON_WEBHOOK}
    )
    harness = await open_harness(project)
    await harness.submit("boss")
    boss = harness.scheduler.instance(harness.runtime.runs[0].instance_id)
    assert boss is not None

    harness.scheduler.pause()
    await harness.scheduler.call(boss, "worker", {"n": 0})
    await harness.submit("worker", "manual", n=1)
    await harness.scheduler.call(boss, "worker", {"n": 2})
    await harness.settle()
    harness.scheduler.resume()
    await harness.settle()

    assert [token(run) for run in harness.runtime.live("worker")] == [0, 1, 2]


@pytest_twisted.ensureDeferred
async def test_queued_webhook_keeps_its_receipt(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    A webhook run that had to wait in the queue still tells the agent which
    receipt it answers.
    """
    harness = await open_harness(build_project(tmp_path, {"worker": ON_WEBHOOK}))
    await harness.submit("worker")

    trigger = Trigger("webhook", "github", {"action": "opened"}, receipt_id="r-1")
    await harness.scheduler.submit("worker", trigger)
    await harness.settle()
    ran = await finish_in_turn(harness, "worker")

    assert ran[1].trigger["receiptId"] == "r-1"
    assert ran[1].trigger["context"] == {"action": "opened"}
