"""
Calls between agents through the real commands: ``al-subagent`` starts the
callee, ``al-return`` gives the caller its answer, ``al-subagent-wait``
waits for it; self-calls and chains deeper than ``maxCallDepth`` are
refused.
"""

from __future__ import annotations

import json

import pytest_twisted

from .conftest import Launcher

#: A hook that calls agent ``b`` with a context and waits for its answer.
CALL_B = (
    'out=$(echo \'{"q": 1}\' | al-subagent b) || exit 1; echo "$out"; '
    'id=$(echo "$out" | sed \'s/.*"callId": "\\([^"]*\\)".*/\\1/\'); '
    'al-subagent-wait "$id" --timeout 30'
)


@pytest_twisted.ensureDeferred
async def test_call_returns_the_callee_answer_to_the_caller(
    launch: Launcher,
) -> None:
    """
    A calls B with ``al-subagent``, B answers with ``al-return``, and A's
    ``al-subagent-wait`` prints B's answer; the call is recorded completed.
    """
    project = await launch(
        {
            "a": {"pre": [CALL_B]},
            "b": {"pre": ['cat "$AL_TRIGGER_FILE"', 'al-return "answer-42"']},
        }
    )
    caller = await project.start("a")
    record = await project.ended(caller, timeout=10)

    messages = project.messages(caller)
    started, waited = project.printed(caller)
    call = await project.scheduler.store.get_call(started["callId"])
    assert call is not None
    [callee] = {r["instance"] for r in project.logs if r["agent"] == "b"} - {None}
    callee_trigger, returned = project.printed(callee)
    assert record.outcome == "completed", messages
    assert waited["ok"] is True
    assert waited["results"][started["callId"]]["returnValue"] == "answer-42"
    assert any("answer-42" in m for m in messages)
    assert (call.state, call.return_value) == ("completed", "answer-42")
    assert returned == {"ok": True}
    assert callee_trigger["type"] == "agent-call"
    assert callee_trigger["context"]["caller"] == "a"
    assert callee_trigger["context"]["callerInstance"] == caller
    assert json.loads(callee_trigger["context"]["context"]) == {"q": 1}


@pytest_twisted.ensureDeferred
async def test_an_agent_cannot_call_itself(launch: Launcher) -> None:
    """
    ``al-subagent`` naming the calling agent prints ``ok`` false and exits
    non-zero.
    """
    project = await launch(
        {"a": {"pre": ["echo '{}' | al-subagent a; echo \"exit=$?\""]}}
    )
    instance_id = await project.start("a")
    await project.ended(instance_id)

    messages = project.messages(instance_id)
    [answer] = project.printed(instance_id)
    assert answer == {"ok": False, "error": "an agent cannot call itself"}
    assert "exit=1" in messages
    assert [r.agent for r in await project.scheduler.store.list_runs()] == ["a"]


@pytest_twisted.ensureDeferred
async def test_call_chain_deeper_than_max_call_depth_is_refused(
    launch: Launcher,
) -> None:
    """
    With ``maxCallDepth = 1``, A may call B but B's call to C is refused,
    and C never runs.
    """
    project = await launch(
        {
            "a": {"pre": [CALL_B]},
            "b": {"pre": ["echo '{}' | al-subagent c; echo \"exit=$?\""]},
            "c": {"pre": ["true"]},
        },
        {"maxCallDepth": 1},
    )
    caller = await project.start("a")
    record = await project.ended(caller, timeout=10)

    [callee] = {r["instance"] for r in project.logs if r["agent"] == "b"} - {None}
    callee_messages = project.messages(callee)
    [refused] = project.printed(callee)
    runs = await project.scheduler.store.list_runs()
    assert record.outcome == "completed"
    assert refused["ok"] is False
    assert "maxCallDepth is 1" in refused["error"]
    assert "exit=1" in callee_messages
    assert sorted(r.agent for r in runs) == ["a", "b"]
