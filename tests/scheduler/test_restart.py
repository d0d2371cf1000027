"""
Starting after a crash: leases a dead service left, items that keep killing
the service, and runs that were in flight.
"""

from __future__ import annotations

from pathlib import Path

import pytest_twisted

from action_llama.config import ProjectConfig
from action_llama.locks import Granted
from action_llama.store import Database, NewRun, Store
from tests.scheduler.support import (
    ON_WEBHOOK,
    OpenHarness,
    agent_of,
    build_project,
    db_path,
    reactor,
)


async def lease_and_die(project: ProjectConfig, agent: str) -> None:
    """
    Do what a service that dies while starting queued work leaves behind:
    recover the leases of the one before, lease ``agent``'s oldest item, and
    stop without starting it.
    """
    db = Database(db_path(project), reactor)
    await db.start()
    store = Store(db)
    await store.recover_leases(1.0)
    assert await store.lease(agent, 1.0) is not None
    await db.close()


async def queue_behind_a_busy_run(
    project: ProjectConfig, open_harness: OpenHarness
) -> str:
    """
    Leave one item in ``worker``'s queue, and the service stopped.

    :returns: the item's work id.
    """
    harness = await open_harness(project)
    await harness.submit("worker", n=0)
    admission = await harness.submit("worker", "webhook", n=1)
    await harness.close()
    assert admission.work_id is not None
    return admission.work_id


@pytest_twisted.ensureDeferred
async def test_item_leased_by_a_dead_service_runs_after_restart(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    Work a service leased and never started, because it died, runs once the
    next service starts.
    """
    project = build_project(tmp_path, {"worker": ON_WEBHOOK})
    work_id = await queue_behind_a_busy_run(project, open_harness)
    await lease_and_die(project, "worker")

    harness = await open_harness(project)

    assert [run.trigger["context"] for run in harness.runtime.runs] == [{"n": 1}]
    assert await harness.store.queue_depths() == {}
    [entry] = [t for t in await harness.triggers() if t.work_id == work_id]
    assert (entry.result, entry.instance_id) == (
        "running",
        harness.runtime.runs[0].instance_id,
    )


@pytest_twisted.ensureDeferred
async def test_item_that_died_with_three_services_is_quarantined(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    Work leased by three services that each died before starting it becomes a
    dead letter: it never runs and no longer counts as queued.
    """
    project = build_project(tmp_path, {"worker": ON_WEBHOOK})
    work_id = await queue_behind_a_busy_run(project, open_harness)
    for _ in range(3):
        await lease_and_die(project, "worker")

    harness = await open_harness(project)
    await harness.submit("worker", n=2)

    assert [run.trigger["context"] for run in harness.runtime.runs] == [{"n": 2}]
    [entry] = [t for t in await harness.triggers() if t.work_id == work_id]
    assert (entry.result, entry.dead_letter_reason) == (
        "dead-letter",
        "crashed_repeatedly",
    )
    dead, _ = await harness.store.list_triggers(1, 10, dead_letter_only=True)
    assert [t.work_id for t in dead] == [work_id]
    assert await harness.store.queue_depths() == {}
    assert agent_of(harness.scheduler.snapshot(), "worker")["queueDepth"] == 0


@pytest_twisted.ensureDeferred
async def test_run_in_flight_when_the_service_died_is_recorded_lost(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    A run still recorded as running when the service starts is recorded as
    ``lost`` and shown as the agent's last result, and its runner and locks
    are free: a new run starts and can take a lock key.
    """
    project = build_project(tmp_path, {"worker": ON_WEBHOOK})
    db = Database(db_path(project), reactor)
    await db.start()
    await Store(db).start_run(NewRun("worker-dead0001", "worker", "manual", 5.0))
    await db.close()

    harness = await open_harness(project)
    lost = await harness.store.get_run("worker-dead0001")
    entry = agent_of(harness.scheduler.snapshot(), "worker")
    admission = await harness.submit("worker")
    assert admission.instance_id is not None
    taken = harness.locks.acquire(
        "github://acme/app/issues/1", admission.instance_id, "worker"
    )

    assert lost is not None
    assert (lost.outcome, lost.error) == ("lost", "the service stopped while it ran")
    assert (await harness.triggers())[0].result == "lost"
    assert (entry["lastResult"], entry["state"], entry["runningCount"]) == (
        "lost",
        "error",
        0,
    )
    assert admission.outcome == "started"
    assert isinstance(taken, Granted)
