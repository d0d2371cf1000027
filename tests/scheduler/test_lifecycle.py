"""
Killing runs, and stopping the scheduler gracefully.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted

from action_llama.locks import Granted
from action_llama.scheduler import Trigger
from action_llama.store import Database, Store
from tests.scheduler.support import (
    EVERY_MINUTE,
    ON_WEBHOOK,
    OpenHarness,
    agent_of,
    build_project,
    db_path,
    reactor,
)


@pytest_twisted.ensureDeferred
async def test_kill_agent_kills_every_run_and_keeps_it_enabled(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    Killing an agent ends each of its runs as ``killed``, frees their locks,
    leaves other agents' runs alone, and the agent still takes work.
    """
    project = build_project(
        tmp_path, {"pair": "scale = 2\n" + ON_WEBHOOK, "other": ON_WEBHOOK}
    )
    harness = await open_harness(project)
    first, second = [(await harness.submit("pair")).instance_id for _ in range(2)]
    await harness.submit("other")
    assert first is not None and second is not None
    harness.locks.acquire("github://acme/app/issues/1", first, "pair")

    killed = harness.scheduler.kill_agent("pair")
    await harness.settle()
    runs = {r.instance_id: r.outcome for r in await harness.store.list_runs("pair")}
    lock = harness.locks.acquire("github://acme/app/issues/1", "x-1", "other")
    again = await harness.submit("pair")

    assert sorted(killed) == sorted([first, second])
    assert runs == {first: "killed", second: "killed"}
    assert isinstance(lock, Granted)
    assert [r.spec.agent_name for r in harness.runtime.live()] == ["other", "pair"]
    assert again.outcome == "started"
    assert agent_of(harness.scheduler.snapshot(), "pair")["enabled"] is True


@pytest_twisted.ensureDeferred
async def test_kill_instance_kills_one_run(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    Killing one instance ends only that run, as ``killed``; an unknown
    instance is reported as not found.
    """
    project = build_project(tmp_path, {"pair": "scale = 2\n" + ON_WEBHOOK})
    harness = await open_harness(project)
    first, second = [(await harness.submit("pair")).instance_id for _ in range(2)]
    assert first is not None and second is not None

    found = harness.scheduler.kill_instance(first)
    missing = harness.scheduler.kill_instance("pair-00000000")
    await harness.settle()
    killed = await harness.store.get_run(first)

    assert (found, missing) == (True, False)
    assert killed is not None and killed.outcome == "killed"
    assert [r.instance_id for r in harness.runtime.live()] == [second]
    assert [t.result for t in await harness.triggers()] == ["killed", "running"]
    assert agent_of(harness.scheduler.snapshot(), "pair")["enabled"] is True


@pytest_twisted.ensureDeferred
async def test_graceful_stop_waits_for_runs_and_keeps_the_queue(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    Stopping waits for the runs in flight, starts nothing new (neither queued
    work nor cron ticks), keeps queued work in the database, and leaves no
    timer behind.
    """
    project = build_project(tmp_path, {"worker": ON_WEBHOOK, "tick": EVERY_MINUTE})
    harness = await open_harness(project)
    await harness.advance(60)
    await harness.submit("worker", n=0)
    await harness.submit("worker", "webhook", n=1)
    await harness.submit("worker", "webhook", n=2)

    stopped = harness.scheduler.stopService()
    await harness.advance(120)
    waiting_after_ticks = not stopped.called
    for run in harness.runtime.live("tick"):
        await harness.finish(run.instance_id)
    waiting_for_worker = not stopped.called
    await harness.finish(harness.runtime.live("worker")[0].instance_id)
    await stopped

    assert waiting_after_ticks and waiting_for_worker
    assert len(harness.runtime.runs) == 2
    assert harness.runtime.live() == []
    assert await harness.queued_contexts("worker") == [{"n": 1}, {"n": 2}]
    assert harness.clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_stop_while_queued_work_is_being_taken_leaves_it_queued(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    Stopping just as a freed runner takes the next queued item neither starts
    it nor counts it as an attempt: it waits, untouched, for the next start.
    """
    harness = await open_harness(build_project(tmp_path, {"worker": ON_WEBHOOK}))
    await harness.submit("worker", n=0)
    await harness.submit("worker", "webhook", n=1)
    [run] = harness.runtime.live()
    instance = harness.scheduler.instance(run.instance_id)
    assert instance is not None and instance.ended is not None
    recorded = instance.ended

    run.kill()
    await recorded
    await harness.scheduler.stopService()
    await harness.db.close()
    db = Database(db_path(harness.project), reactor)
    await db.start()
    items = await Store(db).queued("worker")
    await db.close()

    assert harness.runtime.runs == [run]
    assert [(i.context, i.attempts, i.leased_at) for i in items] == [
        ({"n": 1}, 0, None)
    ]


@pytest_twisted.ensureDeferred
async def test_trigger_that_cannot_be_recorded_holds_no_runner(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    A trigger whose context is not an object fails, whether it would start
    or queue, without keeping a runner or a place in the queue: the next
    trigger starts, and stopping does not wait for a run that never was.
    """
    harness = await open_harness(build_project(tmp_path, {"worker": ON_WEBHOOK}))
    # The control API has passed such contexts on; Trigger's type forbids it.
    bad = Trigger("manual", context="hello")  # type: ignore[arg-type]

    with pytest.raises(ValueError):
        await harness.scheduler.submit("worker", bad)
    good = await harness.submit("worker", n=1)
    with pytest.raises(ValueError):
        await harness.scheduler.submit("worker", bad)
    entry = agent_of(harness.scheduler.snapshot(), "worker")
    harness.runtime.finish(harness.runtime.runs[0].instance_id)
    await harness.scheduler.stopService()

    assert good.outcome == "started"
    assert (entry["runningCount"], entry["queueDepth"]) == (1, 0)
    assert await harness.store.queue_depths() == {}
