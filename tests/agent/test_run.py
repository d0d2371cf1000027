"""
Tests for the child side of a run, started through `ProcessRuntime`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest_twisted
from twisted.internet.utils import getProcessOutputAndValue

from action_llama.runtime import RunExit

from ..runtime.support import make_runtime, make_spec, messages, run_to_end
from .support import FakeGateway


@pytest_twisted.ensureDeferred
async def test_setenv_is_seen_by_later_hooks(tmp_path: Path) -> None:
    """
    A variable set with ``setenv`` in one hook is in the environment of the
    hooks after it.
    """
    spec = make_spec(
        tmp_path,
        ['echo "before=${GREETING-unset}"; setenv GREETING "hello there"'],
        ['echo "after=$GREETING"'],
    )

    result, lines = await run_to_end(make_runtime(tmp_path), spec)

    assert result.outcome == "completed"
    output = messages(lines)
    assert output.index("before=unset") < output.index("after=hello there")


@pytest_twisted.ensureDeferred
async def test_al_exit_ends_the_run_with_its_code(
    tmp_path: Path, gateway: FakeGateway
) -> None:
    """
    ``al-exit 3`` in a hook signals the gateway and ends the run with exit
    code 3 once that hook is over; later hooks do not run.
    """
    spec = make_spec(
        tmp_path,
        ["al-exit 3; echo same hook", "echo next hook"],
        env={"GATEWAY_URL": gateway.url, "AL_RUN_SECRET": "s3cret"},
    )

    result, lines = await run_to_end(make_runtime(tmp_path), spec)

    assert result == RunExit(3, "error", "the run exited with code 3")
    assert [(r.path, r.body) for r in gateway.requests] == [
        ("/signals/exit", {"code": 3})
    ]
    assert "same hook" in messages(lines)
    assert "next hook" not in messages(lines)


@pytest_twisted.ensureDeferred
async def test_hook_output_without_newline_is_kept(tmp_path: Path) -> None:
    """
    The last line a hook writes without a newline still reaches the log, on
    each stream.
    """
    spec = make_spec(tmp_path, ["printf 'no newline'; printf 'err tail' >&2"])

    result, lines = await run_to_end(make_runtime(tmp_path), spec)

    assert result.outcome == "completed"
    hook_lines = [(line.level, line.message) for line in lines if "hook" in line.fields]
    assert ("info", "no newline") in hook_lines
    assert ("warn", "err tail") in hook_lines


@pytest_twisted.ensureDeferred
async def test_unreadable_run_file_is_an_error_line(tmp_path: Path) -> None:
    """
    The child started on a run file that does not exist says so in a JSON
    error line and exits 1.
    """
    missing = tmp_path / "nope.json"

    out, _, code = await getProcessOutputAndValue(
        sys.executable, ["-m", "action_llama.agent", str(missing)], env={}
    )

    assert code == 1
    assert out.startswith(b'{"level": "error", "message": "cannot read the run file')
