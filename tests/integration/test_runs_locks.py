"""
Resource locks through the real agent commands (``rlock``, ``runlock``,
``rlock-heartbeat``) run by hooks of real child processes, as
``/locks/status`` shows them.
"""

from __future__ import annotations

import pytest_twisted

from .conftest import Launcher
from .harness import RunningProject

ISSUE = "github://acme/app/issues/1"


async def answer_count(project: RunningProject, instance_id: str, count: int) -> None:
    """
    Wait until one run's commands have printed ``count`` answers.
    """
    await project.log_line(
        lambda _: len(project.printed(instance_id)) >= count,
        f"{count} command answer(s) from {instance_id}",
    )


@pytest_twisted.ensureDeferred
async def test_locks_between_runs_through_the_commands(launch: Launcher) -> None:
    """
    A lock taken with ``rlock`` is refused to another run (naming the
    holder), listed by ``/locks/status``, cannot be released by the other
    run, is heartbeated by its holder, and is freed when the holder exits.
    """
    gate = launch.gate("holder")
    project = await launch(
        {
            "holder": {
                "pre": [f'rlock "{ISSUE}" && {gate.wait} && rlock-heartbeat "{ISSUE}"']
            },
            "other": {"pre": [f'rlock "{ISSUE}"; runlock "{ISSUE}"; exit 0']},
        }
    )
    holder = await project.start("holder")
    await project.until_locks(lambda keys: keys == [ISSUE], "the holder's lock")
    other = await project.start("other")
    other_record = await project.ended(other)
    code, listed = await project.request("GET", "/locks/status")

    gate.release()
    holder_record = await project.ended(holder)
    _, after = await project.request("GET", "/locks/status")

    refused, not_released = project.printed(other)
    taken, heartbeat = project.printed(holder)
    [lock] = listed["locks"]
    assert other_record.outcome == "completed"
    assert refused["ok"] is False and refused["holder"] == holder
    assert "heldSince" in refused
    assert not_released == {"ok": False, "reason": "held by another instance"}
    assert code == 200
    assert (lock["resourceKey"], lock["holder"]) == (ISSUE, holder)
    assert lock["agentName"] == "holder"
    assert lock["fencingToken"] == taken["fencingToken"]
    assert taken["ok"] is True and heartbeat["ok"] is True
    assert heartbeat["resourceKey"] == ISSUE
    assert holder_record.outcome == "completed"
    assert after == {"locks": []}
    assert "released 1 lock(s)" in project.messages(holder)[-1]


@pytest_twisted.ensureDeferred
async def test_crossed_locks_are_reported_as_a_deadlock(launch: Launcher) -> None:
    """
    Two runs each holding the lock the other wants: the second to ask gets
    "possible deadlock detected" with the cycle of both instances.
    """
    first_gate, second_gate = launch.gate("first"), launch.gate("second")
    project = await launch(
        {
            "first": {
                "pre": [f"rlock x && {first_gate.wait}; rlock y; {first_gate.wait}"]
            },
            "second": {"pre": [f"rlock y && {second_gate.wait}; rlock x; exit 0"]},
        }
    )
    first = await project.start("first")
    await project.until_locks(lambda keys: keys == ["x"], "the first run's lock")
    second = await project.start("second")
    await project.until_locks(lambda keys: keys == ["x", "y"], "the second's lock")

    first_gate.release()
    await answer_count(project, first, 2)
    second_gate.release()
    await project.ended(second)
    first_gate.release()
    await project.ended(first)

    _, first_refused = project.printed(first)
    _, deadlock = project.printed(second)
    assert first_refused["ok"] is False and first_refused["holder"] == second
    assert deadlock == {
        "ok": False,
        "reason": "possible deadlock detected",
        "cycle": [second, first],
    }
