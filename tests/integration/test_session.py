"""
LLM sessions as a user meets them: the whole service on the real reactor,
an agent with a model whose ``baseUrl`` points at a scripted model API on
127.0.0.1, and the real child process talking to both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_twisted
from twisted.internet.defer import Deferred, maybeDeferred

from action_llama.credentials import CredentialStore
from tests.agent.session.plumbing import Serve, Servers
from tests.agent.session.support import ScriptedAPI, bash, say, tool_results

from .harness import YEARLY, RunningProject, listening, project_service, within

#: Seconds a whole session may take: each command starts a Python process.
RUN_WAIT = 60.0


def write_session_project(
    root: Path, provider: str, base_url: str, key_type: str
) -> Path:
    """
    Write a project whose agent ``dev`` uses model ``m`` of ``provider``.
    """
    (root / "agents" / "dev").mkdir(parents=True)
    (root / "config.toml").write_text(
        f'[models.m]\nprovider = "{provider}"\nmodel = "test-model"\n'
        f'baseUrl = "{base_url}"\n'
    )
    (root / "agents" / "dev" / "SKILL.md").write_text(
        "---\ndescription: triages issues\n---\nTriage issue 7 of acme/app.\n"
    )
    (root / "agents" / "dev" / "config.toml").write_text(
        f'models = ["m"]\ncredentials = ["{key_type}"]\nschedule = "{YEARLY}"\n'
    )
    return root


@pytest_twisted.async_yield_fixture
async def serve() -> AsyncIterator[Serve]:
    """
    Serve the scripted APIs of one test on free local ports.
    """
    servers = Servers()
    yield servers.serve
    for port in servers.ports:
        await maybeDeferred(port.stopListening)


@pytest_twisted.async_yield_fixture
async def started() -> AsyncIterator[list[RunningProject]]:
    """
    The projects a test starts, stopped after it.
    """
    projects: list[RunningProject] = []
    yield projects
    for project in projects:
        await project.stop()


async def start(root: Path, projects: list[RunningProject]) -> RunningProject:
    """
    Start the service on ``root``, once the scheduler is ready.
    """
    running = await listening(project_service(root))
    projects.append(running)
    await within(running.scheduler.ready, "the scheduler to be ready")
    return running


@pytest_twisted.ensureDeferred
async def test_anthropic_session_drives_the_agent_commands(
    tmp_path: Path, serve: Serve, started: list[RunningProject]
) -> None:
    """
    A model on the Messages API sets a status, takes a lock and returns a
    value through the real commands; the run completes with the value and
    its token counts recorded, and the key it echoed is masked in the log.
    """
    CredentialStore().write("anthropic_key", "default", "token", "sk-test-xyz")
    held: Deferred[None] = Deferred()
    api = ScriptedAPI(
        "anthropic",
        [
            bash('al-status "working"'),
            bash('rlock "github://acme/app/issues/7"'),
            bash('al-return "done-42"', hold=held),
            bash("echo $ANTHROPIC_API_KEY"),
            say("Issue 7 is triaged."),
        ],
    )
    root = write_session_project(
        tmp_path / "p", "anthropic", serve(api), "anthropic_key"
    )
    running = await start(root, started)

    instance_id = await running.start("dev")
    third = await within(api.arrival(3), "the third model request", RUN_WAIT)
    _, status = await running.request("GET", "/control/status")
    _, locks = await running.request("GET", "/locks/status")
    held.callback(None)
    record = await running.ended(instance_id, RUN_WAIT)

    [agent] = status["agents"]
    assert agent["statusText"] == "working"
    assert [(lock["resourceKey"], lock["holder"]) for lock in locks["locks"]] == [
        ("github://acme/app/issues/7", instance_id)
    ]
    assert '"ok": true' in tool_results(third)[0]
    assert record.outcome == "completed", record
    assert record.return_value == "done-42"
    assert (record.input_tokens, record.output_tokens) == (500, 50)
    assert tool_results(api.requests[4]) == ["***\n"]
    [log_file] = (root / ".al" / "logs").glob("dev-*.log")
    log_text = log_file.read_text()
    assert "sk-test-xyz" not in log_text
    assert '"message": "***"' in log_text
    assert "Issue 7 is triaged." in log_text
    _, locks_after = await running.request("GET", "/locks/status")
    assert locks_after["locks"] == []


@pytest_twisted.ensureDeferred
async def test_custom_openai_compatible_session(
    tmp_path: Path, serve: Serve, started: list[RunningProject]
) -> None:
    """
    A ``custom`` model reached through ``baseUrl`` speaks Chat Completions
    with its key as a Bearer token, and its run is recorded like any other.
    """
    CredentialStore().write("custom_key", "default", "token", "sk-custom-123")
    api = ScriptedAPI("openai", [bash('al-status "custom at work"'), say("ok")])
    url = serve(api) + "/v1"
    root = write_session_project(tmp_path / "p", "custom", url, "custom_key")
    running = await start(root, started)

    instance_id = await running.start("dev")
    record = await running.ended(instance_id, RUN_WAIT)

    assert record.outcome == "completed", record
    assert record.status_text == "custom at work"
    assert (record.input_tokens, record.output_tokens) == (200, 20)
    assert api.requests[0].headers["authorization"] == "Bearer sk-custom-123"
    assert api.requests[0].body["messages"][0]["role"] == "system"
    assert '"ok": true' in tool_results(api.requests[1])[0]
