"""
Runs as a user meets them: real child processes started through the control
API of a real service, ending in each outcome, with their output in the
agent's log and their live status on ``/control/status``.
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest
import pytest_twisted

from .conftest import Launcher


@pytest_twisted.ensureDeferred
async def test_run_past_its_timeout_ends_with_124(launch: Launcher) -> None:
    """
    A hook that runs longer than the agent's timeout is stopped, and the run
    is recorded as ``timeout`` with exit code 124.
    """
    project = await launch({"slow": {"timeout": 1, "pre": ["sleep 30"]}})
    instance_id = await project.start("slow")
    record = await project.ended(instance_id)
    assert (record.outcome, record.exit_code) == ("timeout", 124)
    assert record.error is not None and "timed out after 1 s" in record.error
    assert project.agent("slow")["lastResult"] == "timeout"


@pytest.mark.parametrize(
    "hook",
    [
        "sleep 1000 & echo started; sleep 1000",
        "trap '' TERM; sleep 1000 & echo started; sleep 1000",
    ],
    ids=["plain", "ignoring-sigterm"],
)
@pytest_twisted.ensureDeferred
async def test_killed_run_leaves_no_process_of_its_group(
    launch: Launcher, hook: str
) -> None:
    """
    Killing a run through the control API ends it as ``killed``, and nothing
    of its process group, background jobs and processes that ignore SIGTERM
    included, survives it.
    """
    project = await launch({"hang": {"pre": [hook]}})
    instance_id = await project.start("hang")
    instance = project.scheduler.instance(instance_id)
    assert instance is not None and instance.handle is not None
    pgid = instance.handle.pid
    await project.log_line(
        lambda r: r["instance"] == instance_id and r["message"] == "started",
        "the hook to start its background job",
    )

    code, answer = await project.request("POST", f"/control/kill/{instance_id}")
    record = await project.ended(instance_id)

    assert code == 200 and answer == {"ok": True, "killed": [instance_id]}
    assert record.outcome == "killed"
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


@pytest_twisted.ensureDeferred
async def test_agent_kill_stops_every_running_instance(launch: Launcher) -> None:
    """
    ``/control/agents/<name>/kill`` kills all of the agent's running
    instances, and the agent stays enabled.
    """
    project = await launch({"hang": {"scale": 2, "pre": ["sleep 1000"]}})
    first = await project.start("hang")
    second = await project.start("hang")

    code, answer = await project.request("POST", "/control/agents/hang/kill")
    records = [await project.ended(first), await project.ended(second)]

    assert code == 200 and sorted(answer["killed"]) == sorted([first, second])
    assert [r.outcome for r in records] == ["killed", "killed"]
    assert project.agent("hang")["enabled"] is True


@pytest_twisted.ensureDeferred
async def test_failing_pre_hook_ends_the_run_with_error(launch: Launcher) -> None:
    """
    A pre-hook that fails ends the run as ``error`` with exit code 1, and the
    post-hook never runs.
    """
    project = await launch(
        {"broken": {"pre": ["echo first", "exit 3"], "post": ["echo post-ran"]}}
    )
    instance_id = await project.start("broken")
    record = await project.ended(instance_id)
    messages = project.messages(instance_id)
    assert (record.outcome, record.exit_code) == ("error", 1)
    assert "first" in messages
    assert "pre-hook 2 failed with exit code 3: exit 3" in messages
    assert not any("post-ran" in m for m in messages)


@pytest_twisted.ensureDeferred
async def test_hook_output_lands_in_the_agent_log_file(launch: Launcher) -> None:
    """
    What a hook writes to stdout and stderr lands in
    ``.al/logs/<agent>-YYYY-MM-DD.log`` as JSON lines with time, level,
    agent, instance and message.
    """
    project = await launch({"chatty": {"pre": ["echo hello-out; echo hello-err >&2"]}})
    instance_id = await project.start("chatty")
    await project.ended(instance_id)

    [path] = (project.root / ".al" / "logs").glob("chatty-*.log")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    ours = {r["message"]: r for r in records if r["instance"] == instance_id}
    assert re.fullmatch(r"chatty-\d{4}-\d{2}-\d{2}\.log", path.name)
    assert path.name == f"chatty-{time.strftime('%Y-%m-%d')}.log"
    assert all(
        {"time", "level", "agent", "instance", "message"} <= set(r) for r in records
    )
    assert ours["hello-out"]["level"] == "info"
    assert ours["hello-err"]["level"] == "warn"
    assert ours["hello-out"]["agent"] == "chatty"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ours["hello-out"]["time"]
    )


@pytest_twisted.ensureDeferred
async def test_trigger_context_reaches_the_hook(launch: Launcher) -> None:
    """
    The context posted with a manual trigger is in the file that
    ``$AL_TRIGGER_FILE`` names.
    """
    project = await launch({"reader": {"pre": ['cat "$AL_TRIGGER_FILE"']}})
    context = {"issue": 42, "labels": ["bug"], "note": "héllo"}
    instance_id = await project.start("reader", context)
    record = await project.ended(instance_id)

    [line] = [m for m in project.messages(instance_id) if m.startswith("{")]
    trigger = json.loads(line)
    assert record.outcome == "completed"
    assert trigger["type"] == "manual"
    assert trigger["context"] == context
    assert record.context == context


@pytest_twisted.ensureDeferred
async def test_status_from_a_hook_shows_while_running(launch: Launcher) -> None:
    """
    ``al-status`` from a running hook shows as the agent's ``statusText`` on
    ``/control/status``, with the instance listed as running.
    """
    gate = launch.gate("status")
    project = await launch(
        {"busy": {"pre": [f'al-status "triaging #42" && {gate.wait}']}}
    )
    instance_id = await project.start("busy")
    await project.until(
        lambda: project.agent("busy")["statusText"] == "triaging #42",
        "the status to be set",
    )

    code, status = await project.request("GET", "/control/status")
    gate.release()
    record = await project.ended(instance_id)

    [agent] = [a for a in status["agents"] if a["name"] == "busy"]
    [instance] = status["instances"]
    assert code == 200
    assert agent["statusText"] == "triaging #42"
    assert agent["state"] == "running" and agent["runningCount"] == 1
    assert instance["id"] == instance_id and instance["trigger"] == "manual"
    assert record.outcome == "completed"
    assert record.status_text == "triaging #42"
