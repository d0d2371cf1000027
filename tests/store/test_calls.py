"""
Tests for calls between agents.
"""

from __future__ import annotations

import pytest
import pytest_twisted

from action_llama.store import NoSuchRecord, Store


@pytest_twisted.ensureDeferred
async def test_a_call_moves_through_its_states(store: Store) -> None:
    """
    A call is created ``pending`` under a fresh id, then takes the run serving
    it and finally its return value, keeping what it was given earlier.
    """
    call = await store.create_call("alpha-1", "alpha", "beta", {"issue": 4}, 1, 10.0)
    await store.update_call(call.call_id, "running", 11.0, instance_id="beta-7")
    await store.update_call(call.call_id, "completed", 12.0, return_value="done")
    stored = await store.get_call(call.call_id)

    assert len(call.call_id) == 16 and call.state == "pending"
    assert stored is not None
    assert stored.to_json() == {
        "callId": call.call_id,
        "callerInstance": "alpha-1",
        "callerAgent": "alpha",
        "targetAgent": "beta",
        "context": {"issue": 4},
        "depth": 1,
        "state": "completed",
        "instanceId": "beta-7",
        "returnValue": "done",
        "createdAt": 10000,
        "updatedAt": 12000,
    }


@pytest_twisted.ensureDeferred
async def test_unknown_calls(store: Store) -> None:
    """
    Looking up an unknown call gives ``None``, and updating one fails with
    ``NoSuchRecord``.
    """
    assert await store.get_call("0123456789abcdef") is None
    with pytest.raises(NoSuchRecord):
        await store.update_call("0123456789abcdef", "error", 1.0)
