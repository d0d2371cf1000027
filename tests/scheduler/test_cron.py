"""
Cron triggers: one run per tick, no catch-up, skipped ticks recorded, and
nothing while paused or disabled.
"""

from __future__ import annotations

from pathlib import Path

import pytest_twisted

from tests.scheduler.support import (
    EVERY_MINUTE,
    OpenHarness,
    agent_of,
    build_project,
)


@pytest_twisted.ensureDeferred
async def test_every_minute_fires_once_per_minute(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    An agent scheduled ``* * * * *`` starts one run per minute as time passes,
    each recorded as a cron run.
    """
    harness = await open_harness(build_project(tmp_path, {"tick": EVERY_MINUTE}))

    for minute in range(1, 6):
        await harness.advance(30)
        assert len(harness.runtime.runs) == minute - 1
        await harness.advance(30)
        assert len(harness.runtime.runs) == minute
        await harness.finish(harness.runtime.runs[-1].instance_id)

    runs = await harness.store.list_runs("tick")
    assert [(r.trigger_type, r.outcome) for r in runs] == [("cron", "completed")] * 5
    assert sorted(r.started_at for r in runs) == [60.0, 120.0, 180.0, 240.0, 300.0]
    assert [r.trigger["type"] for r in harness.runtime.runs] == ["cron"] * 5


@pytest_twisted.ensureDeferred
async def test_no_burst_after_a_suspend(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    After the clock jumps an hour at once, at most one run starts instead of
    sixty, and the schedule goes on from the new time.
    """
    harness = await open_harness(build_project(tmp_path, {"tick": EVERY_MINUTE}))

    await harness.advance(3600)
    after_jump = len(harness.runtime.runs)
    for run in harness.runtime.live():
        await harness.finish(run.instance_id)
    await harness.advance(60)

    assert after_jump <= 1
    assert len(harness.runtime.runs) == after_jump + 1
    assert len(await harness.store.list_runs("tick")) == after_jump + 1


@pytest_twisted.ensureDeferred
async def test_busy_tick_is_recorded_as_skipped(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    A tick that finds every runner busy starts nothing and is recorded as
    ``skipped`` in the trigger history.
    """
    harness = await open_harness(build_project(tmp_path, {"tick": EVERY_MINUTE}))

    await harness.advance(60)
    await harness.advance(60)

    assert len(harness.runtime.runs) == 1
    history = await harness.triggers()
    assert [(t.trigger_type, t.agent, t.result) for t in history] == [
        ("cron", "tick", "running"),
        ("cron", "tick", "skipped"),
    ]
    assert history[1].ts == 120.0


@pytest_twisted.ensureDeferred
async def test_nothing_fires_while_paused_and_resume_does_not_catch_up(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    While the scheduler is paused no tick fires, resuming does not run the
    ticks it missed, and the next tick after resuming fires as usual.
    """
    harness = await open_harness(build_project(tmp_path, {"tick": EVERY_MINUTE}))

    harness.scheduler.pause()
    for _ in range(3):
        await harness.advance(60)
    paused_runs = len(harness.runtime.runs)
    harness.scheduler.resume()
    await harness.settle()
    resumed_runs = len(harness.runtime.runs)
    await harness.advance(60)

    assert (paused_runs, resumed_runs) == (0, 0)
    assert [r.spec.agent_name for r in harness.runtime.runs] == ["tick"]
    assert [t.result for t in await harness.triggers()] == ["running"]


@pytest_twisted.ensureDeferred
async def test_nothing_fires_while_the_agent_is_disabled(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    A disabled agent's ticks start nothing; once enabled again it fires at
    its next tick.
    """
    harness = await open_harness(
        build_project(tmp_path, {"tick": EVERY_MINUTE, "tock": EVERY_MINUTE})
    )

    harness.scheduler.set_enabled("tick", False)
    for _ in range(3):
        await harness.advance(60)
        for run in harness.runtime.live():
            await harness.finish(run.instance_id)
    disabled_runs = [r.spec.agent_name for r in harness.runtime.runs]
    harness.scheduler.set_enabled("tick", True)
    await harness.advance(60)

    assert disabled_runs == ["tock"] * 3
    assert sorted(r.spec.agent_name for r in harness.runtime.live()) == [
        "tick",
        "tock",
    ]


@pytest_twisted.ensureDeferred
async def test_snapshot_shows_the_next_run(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    The snapshot shows when the agent fires next, and moves it on after each
    tick.
    """
    harness = await open_harness(build_project(tmp_path, {"tick": EVERY_MINUTE}))

    before = agent_of(harness.scheduler.snapshot(), "tick")
    await harness.advance(60)
    after = agent_of(harness.scheduler.snapshot(), "tick")

    assert before["schedule"] == "* * * * *"
    assert before["nextRunAt"] == "1970-01-01T00:01:00.000Z"
    assert after["nextRunAt"] == "1970-01-01T00:02:00.000Z"
    assert after["runningCount"] == 1
    assert after["state"] == "running"
