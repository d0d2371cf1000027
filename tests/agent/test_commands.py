"""
Tests for the agent commands, run as real processes against a fake gateway.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.utils import getProcessOutputAndValue

from .support import FakeGateway, Recorded


async def run_command(
    env: dict[str, str], *argv: str, stdin: str | None = None
) -> tuple[Any, int]:
    """
    Run one agent command in a child process.

    :param stdin: text piped to the command's stdin, if any.
    :returns: the JSON the command printed and its exit code.
    """
    args = ["-m", "action_llama.agent.commands", *argv]
    executable = sys.executable
    if stdin is not None:
        script = 'printf %s "$INPUT" | "$0" "$@"'
        args, executable = ["-c", script, executable, *args], "/bin/sh"
        env = {**env, "INPUT": stdin}
    out, err, code = await getProcessOutputAndValue(executable, args, env=env)
    assert err == b""
    return json.loads(out), code


@pytest.fixture
def run_env(gateway: FakeGateway, tmp_path: Path) -> dict[str, str]:
    """
    The variables the runtime gives a run, pointing at the fake gateway.
    """
    return {
        "GATEWAY_URL": gateway.url,
        "AL_RUN_SECRET": "s3cret",
        "AL_RUN_DIR": str(tmp_path),
        "AL_ENV_FILE": str(tmp_path / "env.json"),
    }


@pytest.mark.parametrize(
    ("argv", "path", "body"),
    [
        (["al-status", "triaging #42"], "/signals/status", {"text": "triaging #42"}),
        (["al-rerun"], "/signals/rerun", {}),
        (["al-return", "LGTM"], "/signals/return", {"value": "LGTM"}),
        (["rlock", "github://a/b/issues/1"], "/locks/acquire", None),
        (["runlock", "github://a/b/issues/1"], "/locks/release", None),
        (["rlock-heartbeat", "github://a/b/issues/1"], "/locks/heartbeat", None),
    ],
)
@pytest_twisted.ensureDeferred
async def test_command_posts_to_its_route(
    gateway: FakeGateway,
    run_env: dict[str, str],
    argv: list[str],
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """
    Each signal and lock command POSTs its JSON body to its route with the
    run's secret, prints the answer and exits 0 when it is ok.
    """
    gateway.answer("POST", path, 200, {"ok": True, "route": path})

    printed, code = await run_command(run_env, *argv)

    expected = body if body is not None else {"resourceKey": "github://a/b/issues/1"}
    assert gateway.requests == [Recorded("POST", path, "Bearer s3cret", expected)]
    assert printed == {"ok": True, "route": path}
    assert code == 0


@pytest_twisted.ensureDeferred
async def test_refused_lock_prints_the_answer_and_fails(
    gateway: FakeGateway, run_env: dict[str, str]
) -> None:
    """
    An answer with ``"ok": false`` is printed as it is and exits 1.
    """
    refusal = {"ok": False, "holder": "dev-x1", "heldSince": "2025-01-01T00:00:00Z"}
    gateway.answer("POST", "/locks/acquire", 200, refusal)

    assert await run_command(run_env, "rlock", "github://a/b") == (refusal, 1)


@pytest_twisted.ensureDeferred
async def test_al_return_reads_stdin_without_an_argument(
    gateway: FakeGateway, run_env: dict[str, str]
) -> None:
    """
    ``al-return`` with no argument sends what it reads on stdin.
    """
    printed, code = await run_command(run_env, "al-return", stdin="verdict: ok\n")

    assert gateway.requests[0].body == {"value": "verdict: ok"}
    assert (printed, code) == ({"ok": True}, 0)


@pytest.mark.parametrize(("argv", "expected"), [([], 15), (["3"], 3)])
@pytest_twisted.ensureDeferred
async def test_al_exit_stores_the_code_and_signals_it(
    gateway: FakeGateway,
    run_env: dict[str, str],
    tmp_path: Path,
    argv: list[str],
    expected: int,
) -> None:
    """
    ``al-exit [code]`` (default 15) stores the code in the run directory and
    POSTs it to ``/signals/exit``.
    """
    printed, code = await run_command(run_env, "al-exit", *argv)

    assert (tmp_path / "exit-code").read_text() == str(expected)
    assert gateway.requests[0].path == "/signals/exit"
    assert gateway.requests[0].body == {"code": expected}
    assert (printed, code) == ({"ok": True}, 0)


@pytest_twisted.ensureDeferred
async def test_al_exit_refuses_a_bad_code(
    gateway: FakeGateway, run_env: dict[str, str], tmp_path: Path
) -> None:
    """
    ``al-exit`` with a code outside 0..255 fails without signalling anything.
    """
    printed, code = await run_command(run_env, "al-exit", "300")

    assert printed == {
        "ok": False,
        "error": "usage: al-exit [code], with a code from 0 to 255",
    }
    assert code == 1
    assert gateway.requests == []
    assert not (tmp_path / "exit-code").exists()


@pytest_twisted.ensureDeferred
async def test_al_subagent_sends_stdin_as_context(
    gateway: FakeGateway, run_env: dict[str, str]
) -> None:
    """
    ``al-subagent <agent>`` POSTs the target and the context from stdin to
    ``/calls`` and prints the call id.
    """
    gateway.answer("POST", "/calls", 200, {"ok": True, "callId": "c-1"})

    printed, code = await run_command(
        run_env, "al-subagent", "reviewer", stdin="review PR 7"
    )

    body = {"targetAgent": "reviewer", "context": "review PR 7"}
    assert gateway.requests == [Recorded("POST", "/calls", "Bearer s3cret", body)]
    assert (printed, code) == ({"ok": True, "callId": "c-1"}, 0)


@pytest_twisted.ensureDeferred
async def test_al_subagent_check_gets_the_call(
    gateway: FakeGateway, run_env: dict[str, str]
) -> None:
    """
    ``al-subagent-check <callId>`` GETs ``/calls/<callId>`` and prints it.
    """
    state = {"ok": True, "status": "running"}
    gateway.answer("GET", "/calls/c-1", 200, state)

    assert await run_command(run_env, "al-subagent-check", "c-1") == (state, 0)
    assert gateway.requests == [Recorded("GET", "/calls/c-1", "Bearer s3cret", None)]


@pytest_twisted.ensureDeferred
async def test_al_subagent_wait_collects_finished_calls(
    gateway: FakeGateway, run_env: dict[str, str]
) -> None:
    """
    ``al-subagent-wait`` reports every call's final state, and is ok only if
    all of them completed.
    """
    done = {"ok": True, "status": "completed", "returnValue": "LGTM"}
    failed = {"ok": True, "status": "error"}
    gateway.answer("GET", "/calls/c-1", 200, done)
    gateway.answer("GET", "/calls/c-2", 200, failed)

    printed, code = await run_command(run_env, "al-subagent-wait", "c-1", "c-2")

    assert printed == {"ok": False, "results": {"c-1": done, "c-2": failed}}
    assert code == 1


@pytest_twisted.ensureDeferred
async def test_al_subagent_wait_gives_up_at_its_timeout(
    gateway: FakeGateway, run_env: dict[str, str]
) -> None:
    """
    ``al-subagent-wait --timeout`` stops waiting for a call still running and
    says which one.
    """
    running = {"ok": True, "status": "running"}
    gateway.answer("GET", "/calls/c-1", 200, running)

    printed, code = await run_command(
        run_env, "al-subagent-wait", "c-1", "--timeout", "0"
    )

    assert printed == {
        "ok": False,
        "results": {"c-1": running},
        "error": "timed out after 0 s waiting for c-1",
    }
    assert code == 1


@pytest_twisted.ensureDeferred
async def test_setenv_stores_the_variable(
    run_env: dict[str, str], tmp_path: Path
) -> None:
    """
    ``setenv NAME value`` adds the variable to the run's env file.
    """
    (tmp_path / "env.json").write_text('{"A": "1"}')

    assert await run_command(run_env, "setenv", "B_2", "two words") == (
        {"ok": True},
        0,
    )
    assert json.loads((tmp_path / "env.json").read_text()) == {
        "A": "1",
        "B_2": "two words",
    }


@pytest_twisted.ensureDeferred
async def test_setenv_refuses_a_bad_name(run_env: dict[str, str]) -> None:
    """
    ``setenv`` refuses a name that is not a shell variable name.
    """
    printed, code = await run_command(run_env, "setenv", "1BAD", "x")

    assert printed["ok"] is False
    assert printed["error"].startswith("invalid variable name '1BAD'")
    assert code == 1


@pytest_twisted.ensureDeferred
async def test_gateway_error_answer_fails_with_its_reason(
    gateway: FakeGateway, run_env: dict[str, str]
) -> None:
    """
    A 4xx answer is printed with ``"ok": false`` and its error, and exits 1.
    """
    gateway.answer("POST", "/signals/rerun", 403, {"error": "not a scheduled run"})

    assert await run_command(run_env, "al-rerun") == (
        {"error": "not a scheduled run", "ok": False},
        1,
    )


@pytest_twisted.ensureDeferred
async def test_non_json_answer_is_a_clear_error(
    gateway: FakeGateway, run_env: dict[str, str]
) -> None:
    """
    An answer that is not a JSON object gives a clear error and exit 1.
    """
    gateway.answers["POST", "/signals/status"] = (502, b"<html>Bad Gateway</html>")

    printed, code = await run_command(run_env, "al-status", "x")

    assert printed == {
        "ok": False,
        "error": f"the gateway at {gateway.url}/signals/status answered HTTP 502"
        " without a JSON object",
    }
    assert code == 1


@pytest_twisted.ensureDeferred
async def test_unreachable_gateway_is_a_clear_error(tmp_path: Path) -> None:
    """
    A gateway that cannot be reached gives a clear error and exit 1.
    """
    env = {"GATEWAY_URL": "http://127.0.0.1:1", "AL_RUN_SECRET": "s"}

    printed, code = await run_command(env, "al-status", "x")

    assert printed["ok"] is False
    assert printed["error"].startswith(
        "cannot reach the gateway at http://127.0.0.1:1/signals/status:"
    )
    assert code == 1


@pytest_twisted.ensureDeferred
async def test_missing_run_settings_are_a_clear_error() -> None:
    """
    Outside a run (no ``GATEWAY_URL``), a command says so and exits 1.
    """
    assert await run_command({}, "al-status", "x") == (
        {
            "ok": False,
            "error": "GATEWAY_URL is not set; agent commands work only inside a run",
        },
        1,
    )
