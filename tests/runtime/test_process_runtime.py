"""
Tests for `ProcessRuntime` with real child processes on the real reactor.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from zope.interface.verify import verifyObject

from action_llama.credentials import CredentialStore
from action_llama.runtime import IRunHandle, IRuntime, LogLine, RunExit

from .support import make_runtime, make_spec, messages, run_to_end


@pytest_twisted.ensureDeferred
async def test_hooks_run_in_order_and_lines_arrive_with_levels(tmp_path: Path) -> None:
    """
    Pre-hooks, then post-hooks, run in order; stdout lines are info, stderr
    lines warn, and a run whose hooks all succeed completes with exit 0.
    """
    runtime = make_runtime(tmp_path)
    spec = make_spec(tmp_path, ["echo one", "echo two >&2"], ["echo three"])

    result, lines = await run_to_end(runtime, spec)

    assert result == RunExit(0, "completed")
    output = [(line.level, line.message) for line in lines if "hook" in line.fields]
    assert [m for _, m in output if not m.startswith("$")] == ["one", "two", "three"]
    assert ("info", "one") in output
    assert ("warn", "two") in output
    assert lines[-1].message == "run finished"
    assert {line.stream for line in lines} == {"stdout"}


@pytest_twisted.ensureDeferred
async def test_runtime_and_handle_provide_their_interfaces(tmp_path: Path) -> None:
    """
    `ProcessRuntime` provides `IRuntime` and its handles provide `IRunHandle`.
    """
    runtime = make_runtime(tmp_path)
    handle = runtime.start(make_spec(tmp_path), lambda line: None)

    assert verifyObject(IRuntime, runtime)
    assert verifyObject(IRunHandle, handle)
    assert (await handle.finished).outcome == "completed"


@pytest_twisted.ensureDeferred
async def test_failing_pre_hook_aborts_the_run(tmp_path: Path) -> None:
    """
    A failing pre-hook ends the run with exit 1 and outcome error; the later
    pre-hooks and the post-hooks do not run.
    """
    runtime = make_runtime(tmp_path)
    spec = make_spec(tmp_path, ["exit 3", "echo later"], ["echo post"])

    result, lines = await run_to_end(runtime, spec)

    assert result == RunExit(1, "error", "the run exited with code 1")
    assert "later" not in messages(lines)
    assert "post" not in messages(lines)
    errors = [line.message for line in lines if line.level == "error"]
    assert errors == ["pre-hook 1 failed with exit code 3: exit 3"]


@pytest_twisted.ensureDeferred
async def test_timeout_ends_the_run_with_124(tmp_path: Path) -> None:
    """
    A run still going at its timeout is stopped and ends with 124 and outcome
    timeout.
    """
    runtime = make_runtime(tmp_path)
    spec = make_spec(tmp_path, ["sleep 1000"], timeout=0.5)

    result, _ = await run_to_end(runtime, spec)

    assert result == RunExit(124, "timeout", "the run timed out after 0.5 s")


@pytest_twisted.ensureDeferred
async def test_kill_leaves_nothing_of_the_run_behind(tmp_path: Path) -> None:
    """
    Killing a run whose hook started a background job ends every process of
    the run's group, and lines arrive while the run is still going.
    """
    runtime = make_runtime(tmp_path)
    spec = make_spec(tmp_path, ["sleep 1000 & echo started; wait"])
    started: Deferred[None] = Deferred()

    def on_line(line: LogLine) -> None:
        if line.message == "started":
            started.callback(None)

    handle = runtime.start(spec, on_line)
    await started
    result = await handle.kill()

    assert result == RunExit(143, "killed", "the run was killed")
    assert await handle.finished == result
    assert handle.pid is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(handle.pid, 0)


@pytest_twisted.ensureDeferred
async def test_background_jobs_end_with_the_run(tmp_path: Path) -> None:
    """
    A background job a hook leaves running does not hold the run open, and is
    gone once the run has ended.
    """
    runtime = make_runtime(tmp_path)
    spec = make_spec(tmp_path, ["sleep 1000 &", "echo next"])
    handle = runtime.start(spec, lambda line: None)

    result = await handle.finished

    assert result == RunExit(0, "completed")
    assert handle.pid is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(handle.pid, 0)


@pytest_twisted.ensureDeferred
async def test_credentials_are_staged_and_exported(tmp_path: Path) -> None:
    """
    Each credential is staged as a 0600 file in the run and exported under its
    documented names (or ``AL_CRED_<TYPE>_<FIELD>``), its value is masked in
    the run's output, and its files are removed once the run has ended.
    """
    store = CredentialStore()
    store.write("github_token", "default", "token", "ghp_example")
    store.write("git_ssh", "default", "id_rsa", "-----KEY-----")
    store.write("acme-api", "prod", "secret", "hush")
    runtime = make_runtime(tmp_path)
    spec = make_spec(
        tmp_path,
        [
            '[ "$GITHUB_TOKEN" = ghp_example ] && [ "$GH_TOKEN" = ghp_example ]'
            ' && [ "$AL_CRED_ACME_API_SECRET" = hush ] && echo exported',
            'echo "gh=$GITHUB_TOKEN acme=$AL_CRED_ACME_API_SECRET"',
            'stat -c "mode=%a" "$AL_RUN_DIR/credentials/github_token/default/token"',
            'echo "ssh=$GIT_SSH_COMMAND"',
        ],
        credential_refs=("github_token", "git_ssh", "acme-api:prod"),
    )

    result, lines = await run_to_end(runtime, spec)

    assert result.outcome == "completed"
    output = messages(lines)
    assert "exported" in output
    assert "gh=*** acme=***" in output
    assert not any("ghp_example" in line for line in output)
    assert "mode=600" in output
    key_file = spec.run_dir / "credentials" / "git_ssh" / "default" / "id_rsa"
    assert f"ssh=ssh -i {key_file} -o IdentitiesOnly=yes" in " ".join(output)
    assert not (spec.run_dir / "credentials").exists()


@pytest_twisted.ensureDeferred
async def test_missing_credential_fails_the_run_at_once(tmp_path: Path) -> None:
    """
    A run with a credential missing from the store ends at once with outcome
    error and a reason naming the ref and how to add it; no process starts and
    nothing already staged stays behind.
    """
    CredentialStore().write("github_token", "default", "token", "ghp_example")
    runtime = make_runtime(tmp_path)
    spec = make_spec(
        tmp_path, ["echo hi"], credential_refs=("github_token", "github_token:AcmeOrg")
    )

    handle = runtime.start(spec, lambda line: None)

    assert handle.finished.called
    assert handle.pid is None
    assert await handle.finished == RunExit(
        1,
        "error",
        "credential 'github_token:AcmeOrg' is missing;"
        " add it with `al creds add github_token:AcmeOrg`",
    )
    assert await handle.kill() == await handle.finished
    assert not (spec.run_dir / "credentials").exists()


@pytest_twisted.ensureDeferred
async def test_existing_run_directory_is_refused(tmp_path: Path) -> None:
    """
    A run whose directory already exists does not start and says why.
    """
    runtime = make_runtime(tmp_path)
    spec = make_spec(tmp_path, ["echo hi"])
    spec.run_dir.mkdir(parents=True)

    result, _ = await run_to_end(runtime, spec)

    assert result == RunExit(
        1, "error", f"the run directory {spec.run_dir} already exists"
    )


@pytest_twisted.ensureDeferred
async def test_environment_is_minimal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    The child sees the base variables, the spec's and the runtime's own, but
    not the rest of the service's environment.
    """
    monkeypatch.setenv("AL_TEST_LEAK", "leaked")
    runtime = make_runtime(tmp_path)
    spec = make_spec(
        tmp_path,
        [
            'echo "leak=${AL_TEST_LEAK-unset} home=$HOME pwd=$(pwd)"',
            'echo "id=$AL_INSTANCE_ID agent=$AL_AGENT gw=$GATEWAY_URL"',
            'echo "path=$PATH"',
            'cat "$AL_TRIGGER_FILE"; echo',
        ],
        env={"GATEWAY_URL": "http://127.0.0.1:9"},
    )

    result, lines = await run_to_end(runtime, spec)

    assert result.outcome == "completed"
    work = spec.run_dir / "work"
    output = messages(lines)
    assert f"leak=unset home={work} pwd={work}" in output
    assert "id=demo-a1b2 agent=demo gw=http://127.0.0.1:9" in output
    assert f"path={tmp_path / 'state' / 'bin'}:" in " ".join(output)
    assert '{"type": "manual"}' in output


def test_command_wrappers_are_written(tmp_path: Path) -> None:
    """
    The runtime writes one executable wrapper per agent command, running the
    command module with the runtime's interpreter.
    """
    make_runtime(tmp_path)

    wrapper = tmp_path / "state" / "bin" / "al-status"
    assert stat.S_IMODE(wrapper.stat().st_mode) == 0o755
    assert "-m action_llama.agent.commands al-status" in wrapper.read_text()
    assert (tmp_path / "state" / "bin" / "setenv").exists()
