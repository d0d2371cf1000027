"""
Tests for the session inside a real child process, started through
`ProcessRuntime`, against the scripted API on 127.0.0.1 (which also stands
in for the gateway).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest_twisted

from action_llama.runtime import LogLine, RunExit, RunSpec

from ...runtime.support import make_runtime, make_spec, messages, run_to_end
from .plumbing import Serve, gone
from .support import ScriptedAPI, Step, bash, fail, say, tool_results

KEY = "sk-test-xyz"


def session_spec(
    tmp_path: Path,
    url: str,
    pre: Sequence[str] = ("echo pre",),
    post: Sequence[str] = ("echo post",),
    key: str | None = KEY,
) -> RunSpec:
    """
    A run of an agent with one Anthropic model served at ``url``.
    """
    env = {"GATEWAY_URL": url, "AL_RUN_SECRET": "s3cret"}
    if key is not None:
        env["ANTHROPIC_API_KEY"] = key
    model = {"name": "m", "provider": "anthropic", "model": "claude-t", "baseUrl": url}
    return make_spec(tmp_path, pre, post, models=[model], env=env)


async def run_script(
    tmp_path: Path, serve: Serve, steps: Sequence[Step], **spec: object
) -> tuple[RunExit, list[LogLine], ScriptedAPI]:
    """
    Run a session against a scripted API to its end.

    :returns: how the run ended, its lines, and the API.
    """
    api = ScriptedAPI("anthropic", steps)
    url = serve(api)
    result, lines = await run_to_end(
        make_runtime(tmp_path),
        session_spec(tmp_path, url, **spec),  # type: ignore[arg-type]
    )
    return result, lines, api


@pytest_twisted.ensureDeferred
async def test_session_runs_between_the_hooks(tmp_path: Path, serve: Serve) -> None:
    """
    After the pre-hooks the model's commands run in the work directory with
    ``setenv`` values applied, then the post-hooks run; the key never shows,
    and each answer's usage is reported with the run secret.
    """
    steps = [
        bash("echo hello > note.txt && setenv GREETING hi"),
        bash(f"cat note.txt; echo $GREETING; echo $ANTHROPIC_API_KEY {KEY[:4]}"),
        say("All done."),
    ]

    result, lines, api = await run_script(
        tmp_path, serve, steps, post=['echo "post $GREETING"']
    )

    assert result == RunExit(0, "completed")
    output = messages(lines)
    assert output.index("pre") < output.index("All done.") < output.index("post hi")
    assert "*** sk-t" in output
    assert all(KEY not in line for line in output)
    assert tool_results(api.requests[2]) == ["hello\nhi\n*** sk-t\n"]
    assert api.requests[0].headers["x-api-key"] == KEY
    assert [(s.path, s.body) for s in api.signals] == [
        ("/signals/usage", {"inputTokens": 100, "outputTokens": 10})
    ] * 3
    assert {s.headers["authorization"] for s in api.signals} == {"Bearer s3cret"}
    session_lines = [line for line in lines if line.fields.get("phase") == "session"]
    assert [line.message for line in session_lines][:2] == [
        "LLM session started; models: m (anthropic claude-t)",
        "On it.",
    ]


@pytest_twisted.ensureDeferred
async def test_al_exit_in_a_command_ends_the_run(tmp_path: Path, serve: Serve) -> None:
    """
    ``al-exit 7`` in a command ends the run with code 7 once the command is
    over; the post-hooks do not run.
    """
    result, lines, _ = await run_script(tmp_path, serve, [bash("al-exit 7")])

    assert result == RunExit(7, "error", "the run exited with code 7")
    assert "al-exit ended the run with code 7" in messages(lines)
    assert "post" not in messages(lines)


@pytest_twisted.ensureDeferred
async def test_failed_session_fails_the_run(tmp_path: Path, serve: Serve) -> None:
    """
    A session that fails ends the run with exit code 1 and one error line
    with the reason; the post-hooks do not run.
    """
    steps = [fail(400, "prompt is too long")]

    result, lines, _ = await run_script(tmp_path, serve, steps)

    assert result.exit_code == 1 and result.outcome == "error"
    assert [line.message for line in lines if line.level == "error"] == [
        "the session failed: model m refused the request: HTTP 400: prompt is too long"
    ]
    assert "post" not in messages(lines)


@pytest_twisted.ensureDeferred
async def test_missing_key_fails_the_run_clearly(tmp_path: Path, serve: Serve) -> None:
    """
    A model whose key the run lacks ends the run with a line saying how to
    add it, before any request.
    """
    result, lines, api = await run_script(tmp_path, serve, [], key=None)

    assert result.exit_code == 1
    [error] = [line.message for line in lines if line.level == "error"]
    assert error.startswith("the session cannot start: model m needs ANTHROPIC_API_KEY")
    assert api.requests == []


@pytest_twisted.ensureDeferred
async def test_killed_session_kills_its_commands(tmp_path: Path, serve: Serve) -> None:
    """
    Killing a run during a command ends it as killed at once, with the
    command's processes.
    """
    command = "sleep 60 & echo $! > sleep.pid; al-status sleeping; wait"
    api = ScriptedAPI("anthropic", [bash(command)])
    spec = session_spec(tmp_path, serve(api))

    handle = make_runtime(tmp_path).start(spec, lambda line: None)
    await api.signalled("/signals/status")
    result = await handle.kill()

    assert result.outcome == "killed" and result.exit_code == 143
    assert gone(int((spec.run_dir / "work" / "sleep.pid").read_text()))
