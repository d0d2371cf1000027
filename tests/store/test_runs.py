"""
Tests for recording runs and the trigger rows linked to them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted

from action_llama.store import (
    AgentSummary,
    Database,
    NewRun,
    NewWork,
    NoSuchRecord,
    RunOutcome,
    Store,
)
from tests.store.support import reactor


def _run(instance_id: str, started_at: float, agent: str = "alpha") -> NewRun:
    """
    A manual run of ``agent``.
    """
    return NewRun(instance_id, agent, "manual", started_at, context={"n": 1})


@pytest_twisted.ensureDeferred
async def test_start_without_trigger_records_a_running_trigger(store: Store) -> None:
    """
    Starting a run with no trigger row inserts one, ``running`` and linked to
    the run.
    """
    run = NewRun(
        "alpha-1", "alpha", "webhook", 10.0, trigger_source="github", receipt_id="r1"
    )
    await store.start_run(run)
    stored = await store.get_run("alpha-1")
    page, _ = await store.list_triggers(1, 10)
    assert stored is not None and stored.outcome == "running"
    assert [t.to_json() for t in page] == [
        {
            "ts": 10000,
            "triggerType": "webhook",
            "triggerSource": "github",
            "agentName": "alpha",
            "instanceId": "alpha-1",
            "result": "running",
            "webhookReceiptId": "r1",
            "deadLetterReason": None,
        }
    ]
    assert stored.trigger_id == page[0].id


@pytest_twisted.ensureDeferred
async def test_start_and_finish_update_the_given_trigger(store: Store) -> None:
    """
    A run started from an existing trigger row marks it ``running``, and
    finishing the run sets its result to the outcome.
    """
    trigger_id = await store.record_trigger(5.0, "cron", None, "alpha", "queued")
    await store.start_run(_run("alpha-1", 10.0), trigger_id=trigger_id)
    running, _ = await store.list_triggers(1, 10)
    await store.finish_run("alpha-1", 12.5, "timeout", 124, error="took too long")
    finished, total = await store.list_triggers(1, 10)
    run = await store.get_run("alpha-1")

    assert [(t.result, t.instance_id) for t in running] == [("running", "alpha-1")]
    assert [(t.id, t.result) for t in finished] == [(trigger_id, "timeout")]
    assert total == 1
    assert run is not None
    assert (run.ended_at, run.duration, run.outcome, run.exit_code, run.error) == (
        12.5,
        2.5,
        "timeout",
        124,
        "took too long",
    )


@pytest_twisted.ensureDeferred
async def test_start_with_work_id_ends_the_item_atomically(db_path: Path) -> None:
    """
    Starting a run from a leased item deletes the item in the same commit as
    the run: after a reopen the item is gone and the run is there.
    """
    db = Database(db_path, reactor)
    await db.start()
    store = Store(db)
    queued = await store.enqueue(NewWork("alpha", "manual", 1.0), bound=10)
    item = await store.lease("alpha", 2.0)
    assert item is not None
    await store.start_run(
        _run("alpha-1", 3.0), trigger_id=queued.trigger_id, work_id=item.work_id
    )
    await db.close()

    db = Database(db_path, reactor)
    await db.start()
    store = Store(db)
    run = await store.get_run("alpha-1")
    depths = await store.queue_depths()
    page, _ = await store.list_triggers(1, 10)
    await db.close()
    assert run is not None and run.work_id == item.work_id
    assert depths == {}
    assert [(t.result, t.work_id) for t in page] == [("running", item.work_id)]


@pytest_twisted.ensureDeferred
async def test_start_with_a_missing_item_records_nothing(store: Store) -> None:
    """
    Starting a run from a work item that is not stored fails with
    ``NoSuchRecord``, and neither the run nor its trigger row is recorded.
    """
    with pytest.raises(NoSuchRecord, match="work item nope"):
        await store.start_run(_run("alpha-1", 1.0), work_id="nope")
    assert await store.get_run("alpha-1") is None
    assert await store.list_triggers(1, 10) == ([], 0)


@pytest_twisted.ensureDeferred
async def test_updates_of_an_unknown_run_fail(store: Store) -> None:
    """
    Finishing or annotating a run that was never started fails with
    ``NoSuchRecord``.
    """
    with pytest.raises(NoSuchRecord):
        await store.finish_run("ghost-1", 1.0, "completed", 0)
    with pytest.raises(NoSuchRecord):
        await store.set_status_text("ghost-1", "hello")
    with pytest.raises(NoSuchRecord):
        await store.add_tokens("ghost-1", 1, 1)


@pytest_twisted.ensureDeferred
async def test_status_return_value_and_tokens_are_kept(store: Store) -> None:
    """
    Status text and the return value are set, and token counts add up.
    """
    await store.start_run(_run("alpha-1", 1.0))
    await store.set_status_text("alpha-1", "reading issues")
    await store.set_return_value("alpha-1", "42")
    await store.add_tokens("alpha-1", 100, 10)
    await store.add_tokens("alpha-1", 50, 5)
    run = await store.get_run("alpha-1")
    assert run is not None
    assert (run.status_text, run.return_value) == ("reading issues", "42")
    assert (run.input_tokens, run.output_tokens) == (150, 15)
    assert run.context == {"n": 1}


@pytest_twisted.ensureDeferred
async def test_runs_still_running_at_start_are_lost(store: Store) -> None:
    """
    ``mark_lost_runs`` turns every running run into a lost one with the reason,
    marks its trigger row ``lost`` and fails the call it served, leaving
    finished runs alone.
    """
    call = await store.create_call("beta-1", "beta", "alpha", {}, 1, 0.5)
    await store.start_run(_run("alpha-1", 1.0))
    await store.update_call(call.call_id, "running", 1.0, instance_id="alpha-1")
    await store.start_run(_run("alpha-2", 2.0))
    await store.start_run(_run("alpha-3", 3.0))
    await store.finish_run("alpha-3", 4.0, "completed", 0)

    lost = await store.mark_lost_runs(100.0)
    stored = await store.get_run("alpha-1")
    page, _ = await store.list_triggers(1, 10)
    served = await store.get_call(call.call_id)

    assert [r.instance_id for r in lost] == ["alpha-1", "alpha-2"]
    assert lost[0] == stored
    assert stored is not None
    assert (stored.outcome, stored.ended_at, stored.duration, stored.error) == (
        "lost",
        100.0,
        None,
        "the service stopped while it ran",
    )
    assert [t.result for t in page] == ["completed", "lost", "lost"]
    assert served is not None and served.state == "error"
    assert await store.mark_lost_runs(200.0) == []


@pytest_twisted.ensureDeferred
async def test_list_runs_filters_newest_first(store: Store) -> None:
    """
    Runs are listed newest first, by agent and start time when asked, up to the
    limit.
    """
    for i, agent in enumerate(["alpha", "beta", "alpha", "beta", "alpha"]):
        await store.start_run(_run(f"{agent}-{i}", float(i), agent))

    every = await store.list_runs()
    alphas = await store.list_runs(agent="alpha", since=1.0)
    newest = await store.list_runs(limit=2)
    assert [r.instance_id for r in every] == [
        "alpha-4",
        "beta-3",
        "alpha-2",
        "beta-1",
        "alpha-0",
    ]
    assert [r.instance_id for r in alphas] == ["alpha-4", "alpha-2"]
    assert [r.instance_id for r in newest] == ["alpha-4", "beta-3"]


@pytest_twisted.ensureDeferred
async def test_run_summary_counts_outcomes_durations_and_tokens(
    store: Store,
) -> None:
    """
    The summary counts each agent's runs by outcome since a time, averages the
    known durations and sums the tokens.
    """
    await store.start_run(_run("alpha-0", 0.0))
    await store.finish_run("alpha-0", 100.0, "completed", 0)
    finishes: list[tuple[RunOutcome, float]] = [("completed", 2.0), ("error", 4.0)]
    for i, (outcome, seconds) in enumerate(finishes, 1):
        await store.start_run(_run(f"alpha-{i}", 10.0))
        await store.add_tokens(f"alpha-{i}", 10, 1)
        await store.finish_run(f"alpha-{i}", 10.0 + seconds, outcome, 0)
    await store.start_run(_run("beta-1", 20.0, "beta"))

    summary = await store.run_summary(since=5.0)
    assert summary == {
        "alpha": AgentSummary("alpha", 2, {"completed": 1, "error": 1}, 3.0, 20, 2),
        "beta": AgentSummary("beta", 1, {"running": 1}, None, 0, 0),
    }
    assert summary["alpha"].to_json()["errorRuns"] == 1
    assert summary["alpha"].to_json()["avgDurationMs"] == 3000
