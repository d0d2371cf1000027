"""
Runner pools and the work queue as the control API shows them: triggers
that find every runner busy wait in order, and ``scale`` runs that many at
once.
"""

from __future__ import annotations

import itertools

import pytest_twisted

from .conftest import Launcher


@pytest_twisted.ensureDeferred
async def test_busy_agent_runs_queued_triggers_one_after_another(
    launch: Launcher,
) -> None:
    """
    With scale 1, three manual triggers sent while a run is busy are queued
    and then run one at a time, in the order they were sent.
    """
    gate = launch.gate("queue")
    project = await launch({"q": {"scale": 1, "pre": [gate.wait]}})
    first = await project.start("q", {"tag": 0})
    answers = [await project.trigger("q", {"tag": tag}) for tag in (1, 2, 3)]
    depth = project.agent("q")["queueDepth"]

    gate.release(4)
    await project.ended(first)
    await project.until(lambda: project.idle("q"), "the queue to drain")

    runs = sorted(
        await project.scheduler.store.list_runs("q"), key=lambda r: r.started_at
    )
    assert [a["outcome"] for a in answers] == ["queued"] * 3
    assert len({a["workId"] for a in answers}) == 3
    assert depth == 3
    assert [r.context["tag"] for r in runs] == [0, 1, 2, 3]
    assert [r.outcome for r in runs] == ["completed"] * 4
    for earlier, later in itertools.pairwise(runs):
        assert earlier.ended_at is not None and later.started_at >= earlier.ended_at
    assert [r.work_id is not None for r in runs] == [False, True, True, True]


@pytest_twisted.ensureDeferred
async def test_scale_three_runs_three_at_once(launch: Launcher) -> None:
    """
    With scale 3, three manual triggers start three runs that all run at the
    same time.
    """
    gate = launch.gate("scale")
    project = await launch({"wide": {"scale": 3, "pre": [gate.wait]}})
    started = [await project.start("wide", {"tag": tag}) for tag in range(3)]
    code, status = await project.request("GET", "/control/status")

    gate.release(3)
    records = [await project.ended(instance_id) for instance_id in started]

    [agent] = status["agents"]
    assert code == 200
    assert agent["runningCount"] == 3 and agent["queueDepth"] == 0
    assert sorted(i["id"] for i in status["instances"]) == sorted(started)
    assert [r.outcome for r in records] == ["completed"] * 3
    assert max(r.started_at for r in records) < min(r.ended_at or 0.0 for r in records)
