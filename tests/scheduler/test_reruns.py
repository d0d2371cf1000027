"""
Reruns (``al-rerun``): scheduled runs that succeed run again, up to
``maxReruns`` in a row.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted

from tests.scheduler.support import (
    EVERY_MINUTE,
    ON_WEBHOOK,
    Harness,
    Kind,
    OpenHarness,
    build_project,
)


def request_rerun(harness: Harness, instance_id: str) -> bool:
    """
    Ask for a rerun of a live run, as ``al-rerun`` does.
    """
    instance = harness.scheduler.instance(instance_id)
    assert instance is not None
    return harness.scheduler.request_rerun(instance)


@pytest_twisted.ensureDeferred
async def test_cron_run_reruns_up_to_max_reruns(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    A cron run that asks for a rerun runs again at once, and so on up to
    ``maxReruns`` reruns in a row; the next request is not honoured.
    """
    project = build_project(tmp_path, {"tick": EVERY_MINUTE}, "maxReruns = 2\n")
    harness = await open_harness(project)

    await harness.advance(60)
    answers = []
    while live := harness.runtime.live():
        answers.append(request_rerun(harness, live[0].instance_id))
        await harness.finish(live[0].instance_id)
        assert len(harness.runtime.runs) <= 3

    assert answers == [True, True, True]
    assert [r.trigger["type"] for r in harness.runtime.runs] == [
        "cron",
        "rerun",
        "rerun",
    ]
    assert harness.clock.seconds() == 60
    history = await harness.triggers()
    assert [(t.trigger_type, t.result) for t in history] == [
        ("cron", "completed"),
        ("rerun", "completed"),
        ("rerun", "completed"),
    ]


@pytest.mark.parametrize("kind", ["webhook", "manual", "agent-call"])
@pytest_twisted.ensureDeferred
async def test_only_scheduled_runs_rerun(
    tmp_path: Path, open_harness: OpenHarness, kind: Kind
) -> None:
    """
    A webhook, manual or call run that asks for a rerun is told no, and does
    not run again.
    """
    harness = await open_harness(build_project(tmp_path, {"worker": ON_WEBHOOK}))
    await harness.submit("worker", kind)
    [run] = harness.runtime.runs

    answer = request_rerun(harness, run.instance_id)
    await harness.finish(run.instance_id)

    assert answer is False
    assert harness.runtime.runs == [run]


@pytest_twisted.ensureDeferred
async def test_failed_run_does_not_rerun(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    A cron run that asked for a rerun and then failed does not run again.
    """
    harness = await open_harness(build_project(tmp_path, {"tick": EVERY_MINUTE}))
    await harness.advance(60)
    [run] = harness.runtime.runs

    request_rerun(harness, run.instance_id)
    await harness.finish(run.instance_id, 1, "error")

    assert harness.runtime.runs == [run]
    assert [t.result for t in await harness.triggers()] == ["error"]
