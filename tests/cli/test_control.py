"""
``al stat``, ``pause``, ``resume``, ``kill``, ``stop`` and ``dashboard`` as a
user runs them: real ``al`` processes against a live gateway, or against a
project whose gateway is down.
"""

from __future__ import annotations

from pathlib import Path

import pytest_twisted
from twisted.internet import reactor

from action_llama.credentials import CredentialStore
from tests.helpers import al_argv, spawn

from .support import Live, al, one_line_error, write_project

LISTENING = r"Gateway listening on (http://127\.0\.0\.1:\d+)"


@pytest_twisted.ensureDeferred
async def test_stat_shows_each_agent_of_the_running_gateway(live: Live) -> None:
    """
    ``al stat`` prints the scheduler's state and an aligned row per agent
    with its state, schedule, next run, queue depth and status text.
    """
    instance_id = await live.start("hello")
    await live.ended(instance_id)
    result = await al("stat", "-p", str(live.root))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("Scheduler running")
    assert "0 instance(s) running" in lines[0]
    assert lines[1].split() == [
        "AGENT",
        "STATE",
        "SCHEDULE",
        "NEXT",
        "RUN",
        "QUEUE",
        "STATUS",
    ]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == {"failing", "hello", "sleeper"}
    assert rows["hello"].split()[1] == "idle"
    assert "0 0 1 1 *" in rows["hello"] and rows["hello"].endswith("saying hello")
    status_column = lines[1].index("STATUS")
    assert rows["hello"].index("saying hello") == status_column


@pytest_twisted.ensureDeferred
async def test_stat_lists_running_instances(live: Live) -> None:
    """
    A running instance shows as the agent's state and in the instance list.
    """
    instance_id = await live.start("sleeper")
    result = await al("stat", "-p", str(live.root))
    assert result.code == 0, result.err
    assert "1 instance(s) running" in result.out
    row = next(line for line in result.out.splitlines() if line.startswith("sleeper"))
    assert row.split()[1] == "running"
    assert f"  {instance_id}  sleeper" in result.out


@pytest_twisted.ensureDeferred
async def test_stat_offline_shows_the_configuration(offline: Path) -> None:
    """
    With the gateway down, ``al stat`` says so, shows the configured agents
    with unknown live fields, and exits 0.
    """
    result = await al("stat", "-p", str(offline))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("The gateway is not running at http://127.0.0.1:")
    assert "this is the configuration only" in lines[0]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["hello"] == ["hello", "-", "0", "0", "1", "1", "*", "-", "-", "-"]


@pytest_twisted.ensureDeferred
async def test_pause_and_resume_the_scheduler(live: Live) -> None:
    """
    ``al pause`` and ``al resume`` without a name pause and resume the
    scheduler.
    """
    paused = await al("pause", "-p", str(live.root))
    paused_status = await live.status()
    resumed = await al("resume", "-p", str(live.root))
    resumed_status = await live.status()
    assert paused.code == 0 and "Scheduler paused" in paused.out
    assert paused_status["schedulerInfo"]["paused"] is True
    assert resumed.code == 0 and "Scheduler resumed" in resumed.out
    assert resumed_status["schedulerInfo"]["paused"] is False


@pytest_twisted.ensureDeferred
async def test_pause_and_resume_one_agent(live: Live) -> None:
    """
    ``al pause NAME`` disables only that agent and ``al resume NAME``
    enables it again.
    """
    paused = await al("pause", "hello", "-p", str(live.root))
    hello = await live.agent("hello")
    sleeper = await live.agent("sleeper")
    resumed = await al("resume", "hello", "-p", str(live.root))
    assert paused.code == 0 and "Agent hello paused" in paused.out
    assert hello["enabled"] is False and hello["state"] == "disabled"
    assert sleeper["enabled"] is True
    assert resumed.code == 0 and "Agent hello resumed" in resumed.out
    assert (await live.agent("hello"))["enabled"] is True


@pytest_twisted.ensureDeferred
async def test_kill_by_agent_name(live: Live) -> None:
    """
    ``al kill AGENT`` kills the agent's running child and prints its id.
    """
    instance_id = await live.start("sleeper")
    result = await al("kill", "sleeper", "-p", str(live.root))
    run = await live.ended(instance_id)
    assert result.code == 0, result.err
    assert result.out.strip() == f"Killed {instance_id}."
    assert run.outcome == "killed"
    assert (await live.agent("sleeper"))["enabled"] is True


@pytest_twisted.ensureDeferred
async def test_kill_by_instance_id(live: Live) -> None:
    """
    ``al kill ID`` kills one running instance when no agent has that name.
    """
    instance_id = await live.start("sleeper")
    result = await al("kill", instance_id, "-p", str(live.root))
    run = await live.ended(instance_id)
    assert result.code == 0, result.err
    assert result.out.strip() == f"Killed {instance_id}."
    assert run.outcome == "killed"


@pytest_twisted.ensureDeferred
async def test_kill_of_an_idle_agent_kills_nothing(live: Live) -> None:
    """
    Killing an agent with nothing running says so and succeeds.
    """
    result = await al("kill", "hello", "-p", str(live.root))
    assert result.code == 0
    assert result.out.strip() == "hello has no running instances."


@pytest_twisted.ensureDeferred
async def test_kill_of_an_unknown_target_fails(live: Live) -> None:
    """
    A name that is neither an agent nor a running instance is one error line.
    """
    result = await al("kill", "nobody-1234", "-p", str(live.root))
    assert result.code == 1
    assert one_line_error(result) == (
        "Error: there is no agent or running instance called 'nobody-1234'"
    )


@pytest_twisted.ensureDeferred
async def test_stop_ends_the_service(tmp_path: Path) -> None:
    """
    ``al stop`` (finding the gateway through AL_GATEWAY_URL) stops a running
    ``al start``, which then exits 0.
    """
    root = write_project(tmp_path / "p", 8080)
    service = spawn(reactor, al_argv("start", "-p", str(root), "--port", "0"))
    match = await service.wait_for(LISTENING, reactor)
    result = await al("stop", "-p", str(root), env={"AL_GATEWAY_URL": match.group(1)})
    exit_code = await service.ended
    assert result.code == 0, result.err
    assert "stopping (in-flight runs finish first)" in result.out
    assert exit_code == 0, service.output


@pytest_twisted.ensureDeferred
async def test_dashboard_prints_a_one_time_link(live: Live) -> None:
    """
    ``al dashboard`` prints a login link for the running gateway, not the key.
    """
    result = await al("dashboard", "-p", str(live.root))
    assert result.code == 0, result.err
    link = result.out.splitlines()[-1]
    assert link.startswith(live.url + "/login?token=")
    key = CredentialStore().gateway_key()
    assert key is not None and key not in result.out


@pytest_twisted.ensureDeferred
async def test_commands_say_when_the_gateway_is_not_running(offline: Path) -> None:
    """
    Every gateway command fails with one line naming the address and
    ``al start``.
    """
    port = (offline / "config.toml").read_text().split("=")[1].strip()
    expected = (
        f"Error: the gateway is not running at http://127.0.0.1:{port} — start "
        "it with `al start`"
    )
    for args in (["pause"], ["resume", "hello"], ["kill", "hello"], ["stop"]):
        result = await al(*args, "-p", str(offline))
        assert result.code == 1, args
        assert one_line_error(result) == expected, args


@pytest_twisted.ensureDeferred
async def test_missing_key_is_reported(live: Live, tmp_path: Path) -> None:
    """
    With no API key in the credential store, a command says to run doctor.
    """
    result = await al("stat", "-p", str(live.root), env={"HOME": str(tmp_path)})
    assert result.code == 1
    assert one_line_error(result) == "Error: no gateway API key; run `al doctor`"


@pytest_twisted.ensureDeferred
async def test_wrong_key_is_reported(live: Live, tmp_path: Path) -> None:
    """
    A key the gateway refuses (401) gets the line about regenerated keys.
    """
    CredentialStore(tmp_path).regenerate_gateway_key()
    result = await al("pause", "-p", str(live.root), env={"HOME": str(tmp_path)})
    assert result.code == 1
    assert one_line_error(result) == (
        "Error: the gateway refused the API key; was it regenerated? run `al doctor`"
    )
    assert (await live.status())["schedulerInfo"]["paused"] is False


@pytest_twisted.ensureDeferred
async def test_unknown_agent_gets_the_servers_reason(live: Live) -> None:
    """
    Pausing or resuming an agent the gateway does not know fails with the
    gateway's 404 reason.
    """
    for command in ("pause", "resume"):
        result = await al(command, "nope", "-p", str(live.root))
        assert result.code == 1
        assert one_line_error(result) == "Error: there is no agent called 'nope'"
