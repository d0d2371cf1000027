"""
Calls between agents (``al-subagent``): the call record, refusals, and calls
that have to wait.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted

from action_llama.scheduler import CallRefused, Instance
from tests.scheduler.support import ON_WEBHOOK, Harness, OpenHarness, build_project

AGENTS = {"a": ON_WEBHOOK, "b": ON_WEBHOOK, "c": ON_WEBHOOK}


async def live_instance(harness: Harness, agent: str) -> Instance:
    """
    Start a manual run of ``agent`` and give its live instance.
    """
    admission = await harness.submit(agent)
    assert admission.instance_id is not None
    instance = harness.scheduler.instance(admission.instance_id)
    assert instance is not None
    return instance


@pytest_twisted.ensureDeferred
async def test_call_runs_the_target_and_records_its_return(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    A call starts the target with an ``agent-call`` trigger carrying the
    caller and context, and its record goes from pending to running to
    completed with the value the target returned.
    """
    harness = await open_harness(build_project(tmp_path, AGENTS))
    caller = await live_instance(harness, "a")

    record = await harness.scheduler.call(caller, "b", {"issue": 7})
    await harness.settle()
    [target] = harness.runtime.live("b")
    running = await harness.store.get_call(record.call_id)
    instance = harness.scheduler.instance(target.instance_id)
    assert instance is not None
    await harness.scheduler.set_return(instance, "fixed in #8")
    await harness.finish(target.instance_id)
    completed = await harness.store.get_call(record.call_id)

    assert record.state == "pending"
    assert target.trigger["type"] == "agent-call"
    assert target.trigger["callId"] == record.call_id
    assert target.trigger["depth"] == 1
    assert target.trigger["context"] == {
        "caller": "a",
        "callerInstance": caller.id,
        "context": {"issue": 7},
    }
    assert running is not None and completed is not None
    assert (running.state, running.instance_id) == ("running", target.instance_id)
    assert (completed.state, completed.return_value) == ("completed", "fixed in #8")
    assert [t.trigger_type for t in await harness.triggers()] == [
        "manual",
        "agent-call",
    ]


@pytest_twisted.ensureDeferred
async def test_call_to_a_busy_agent_waits_and_completes_later(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    A call to an agent with no free runner stays pending in the queue, then
    runs and completes once the agent is free.
    """
    harness = await open_harness(build_project(tmp_path, AGENTS))
    caller = await live_instance(harness, "a")
    busy = await live_instance(harness, "b")

    record = await harness.scheduler.call(caller, "b", {"issue": 9})
    await harness.settle()
    waiting = await harness.store.get_call(record.call_id)
    await harness.finish(busy.id)
    [target] = harness.runtime.live("b")
    running = await harness.store.get_call(record.call_id)
    await harness.finish(target.instance_id)
    completed = await harness.store.get_call(record.call_id)

    assert waiting is not None and running is not None and completed is not None
    assert waiting.state == "pending"
    assert target.trigger["callId"] == record.call_id
    assert (running.state, running.instance_id) == ("running", target.instance_id)
    assert completed.state == "completed"


@pytest_twisted.ensureDeferred
async def test_failed_target_fails_the_call(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    A call whose run fails ends in the ``error`` state.
    """
    harness = await open_harness(build_project(tmp_path, AGENTS))
    caller = await live_instance(harness, "a")

    record = await harness.scheduler.call(caller, "b", {})
    await harness.settle()
    await harness.finish(harness.runtime.live("b")[0].instance_id, 1, "error")
    call = await harness.store.get_call(record.call_id)

    assert call is not None and call.state == "error"


@pytest_twisted.ensureDeferred
async def test_self_call_is_refused(tmp_path: Path, open_harness: OpenHarness) -> None:
    """
    An agent cannot call itself, and nothing starts.
    """
    harness = await open_harness(build_project(tmp_path, AGENTS))
    caller = await live_instance(harness, "a")

    with pytest.raises(CallRefused, match="cannot call itself"):
        await harness.scheduler.call(caller, "a", {})

    assert len(harness.runtime.runs) == 1


@pytest_twisted.ensureDeferred
async def test_call_beyond_max_call_depth_is_refused(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    With ``maxCallDepth = 1`` an agent may call another, but the called agent
    may not call a third.
    """
    harness = await open_harness(build_project(tmp_path, AGENTS, "maxCallDepth = 1\n"))
    caller = await live_instance(harness, "a")
    await harness.scheduler.call(caller, "b", {})
    await harness.settle()
    called = harness.scheduler.instance(harness.runtime.live("b")[0].instance_id)
    assert called is not None

    with pytest.raises(CallRefused, match="maxCallDepth is 1"):
        await harness.scheduler.call(called, "c", {})

    assert harness.runtime.live("c") == []
    assert await harness.store.queue_depths() == {}


@pytest_twisted.ensureDeferred
async def test_call_to_a_disabled_agent_is_refused(
    tmp_path: Path, open_harness: OpenHarness
) -> None:
    """
    A call to a disabled agent is refused, and neither starts nor queues it.
    """
    harness = await open_harness(build_project(tmp_path, AGENTS))
    caller = await live_instance(harness, "a")
    harness.scheduler.set_enabled("b", False)

    with pytest.raises(CallRefused, match="agent_disabled"):
        await harness.scheduler.call(caller, "b", {})

    assert harness.runtime.live("b") == []
    assert await harness.store.queue_depths() == {}
