"""
Runner pools: each agent's ``scale``, the project-wide cap, and ``scale = 0``.
"""

from __future__ import annotations

from pathlib import Path

import pytest_twisted

from tests.scheduler.support import ON_WEBHOOK, OpenHarness, agent_of, build_project


@pytest_twisted.ensureDeferred
async def test_scale_one_runs_one_at_a_time(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    With scale 1 a second manual trigger waits in the queue until the first
    run ends.
    """
    harness = await open_harness(build_project(tmp_path, {"solo": ON_WEBHOOK}))

    outcomes = [(await harness.submit("solo", n=n)).outcome for n in range(3)]
    running_at_once = len(harness.runtime.live())
    await harness.finish(harness.runtime.runs[0].instance_id)

    assert outcomes == ["started", "queued", "queued"]
    assert running_at_once == 1
    assert [r.trigger["context"] for r in harness.runtime.live()] == [{"n": 1}]


@pytest_twisted.ensureDeferred
async def test_scale_three_runs_three_at_once(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    With scale 3 three manual triggers run at once and the rest queue; each
    run that ends lets one more start.
    """
    project = build_project(tmp_path, {"trio": "scale = 3\n" + ON_WEBHOOK})
    harness = await open_harness(project)

    outcomes = [(await harness.submit("trio", n=n)).outcome for n in range(5)]
    first = [r.trigger["context"]["n"] for r in harness.runtime.live()]
    snapshot = agent_of(harness.scheduler.snapshot(), "trio")
    await harness.finish(harness.runtime.runs[1].instance_id)
    second = [r.trigger["context"]["n"] for r in harness.runtime.live()]

    assert outcomes == ["started"] * 3 + ["queued"] * 2
    assert first == [0, 1, 2]
    assert (snapshot["runningCount"], snapshot["queueDepth"]) == (3, 2)
    assert second == [0, 2, 3]


@pytest_twisted.ensureDeferred
async def test_project_scale_caps_runs_across_agents(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    The project ``scale`` caps runs across all agents: work beyond it queues
    even when its own agent has a free runner, and starts when any run ends.
    """
    agent = "scale = 2\n" + ON_WEBHOOK
    project = build_project(tmp_path, {"a": agent, "b": agent}, "scale = 2\n")
    harness = await open_harness(project)

    outcomes = [(await harness.submit(name)).outcome for name in ("a", "b", "b", "a")]
    snapshot = harness.scheduler.snapshot()
    await harness.finish(harness.runtime.runs[0].instance_id)

    assert outcomes == ["started", "started", "queued", "queued"]
    assert snapshot["schedulerInfo"]["runningCount"] == 2
    assert len(harness.runtime.live()) == 2
    assert len(harness.runtime.runs) == 3


@pytest_twisted.ensureDeferred
async def test_scale_zero_disables_the_agent(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    An agent with ``scale = 0`` is disabled: a trigger is refused with
    ``agent_disabled`` and nothing is queued.
    """
    harness = await open_harness(build_project(tmp_path, {"off": "scale = 0\n"}))

    admission = await harness.submit("off")

    assert (admission.outcome, admission.reason) == ("refused", "agent_disabled")
    assert harness.runtime.runs == []
    assert await harness.store.queue_depths() == {}
    entry = agent_of(harness.scheduler.snapshot(), "off")
    assert (entry["enabled"], entry["state"]) == (False, "disabled")
