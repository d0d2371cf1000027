"""
Triggers with bad input: refused with a reason, and the agent stays usable.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from .conftest import Launcher


@pytest.mark.parametrize(
    "body",
    [{"context": "hello"}, {"context": [1, 2]}, {"context": None}, [1]],
    ids=["string", "list", "null", "not-an-object"],
)
@pytest_twisted.ensureDeferred
async def test_trigger_with_a_non_object_context_is_refused(
    launch: Launcher, body: Any
) -> None:
    """
    A manual trigger whose body or ``context`` is not a JSON object gets a
    400 that says so, and the next good trigger still starts at once.
    """
    project = await launch({"a": {"pre": ["true"]}})
    code, answer = await project.request("POST", "/control/trigger/a", body)
    after = await project.trigger("a", {"ok": True})
    if after["instanceId"]:
        await project.ended(after["instanceId"])

    assert (code, after["outcome"]) == (400, "started"), (answer, after)
    assert "context" in answer["error"]
