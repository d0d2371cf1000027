"""
``al run`` and ``al stats`` as a user runs them: through a live gateway, and
in the foreground of the ``al`` process itself when no gateway runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest_twisted
from twisted.internet import reactor

from action_llama.config import load_project
from action_llama.service import ServiceOptions, makeService
from tests.helpers import al_argv, spawn

from .support import Live, al, one_line_error, ready


@pytest_twisted.ensureDeferred
async def test_run_through_the_gateway_follows_the_run(live: Live) -> None:
    """
    With the gateway running, ``al run`` triggers the agent there, prints
    its log lines, and exits 0 for a completed run.
    """
    result = await al("run", "hello", "-p", str(live.root))
    assert result.code == 0, result.err
    assert "hello from hello" in result.out
    assert "Run ended: completed, exit code 0" in result.out
    [run] = await live.scheduler.store.list_runs(agent="hello")
    assert run.trigger_type == "manual" and run.outcome == "completed"
    assert run.instance_id in result.out


@pytest_twisted.ensureDeferred
async def test_failing_run_through_the_gateway_exits_1(live: Live) -> None:
    """
    A run that fails on the gateway makes ``al run`` exit 1 after its output.
    """
    result = await al("run", "failing", "-p", str(live.root))
    assert result.code == 1
    assert "about to fail" in result.out
    assert "Run ended: error" in result.out


@pytest_twisted.ensureDeferred
async def test_run_of_a_busy_agent_waits_for_its_queued_run(live: Live) -> None:
    """
    When the agent is busy the run is queued; ``al run`` says so, then
    follows the run once it starts, and ends with its exit code.
    """
    first = await live.start("sleeper")
    process = spawn(reactor, al_argv("run", "sleeper", "-p", str(live.root)))
    await process.wait_for(r"sleeper is busy; the run is queued", reactor)
    live.scheduler.kill_instance(first)
    match = await process.wait_for(r"(sleeper-[0-9a-f]+) Run started", reactor)
    assert match.group(1) != first
    live.scheduler.kill_instance(match.group(1))
    assert await process.ended == 143
    assert f"{match.group(1)} Run ended: killed" in process.output
    assert first not in process.output


@pytest_twisted.ensureDeferred
async def test_run_without_gateway_runs_here(offline: Path) -> None:
    """
    With no gateway, ``al run`` runs the agent in its own process, agent
    commands included, prints the hook output, and exits 0.
    """
    result = await al("run", "hello", "-p", str(offline))
    assert result.code == 0, result.err + result.out
    assert "running hello here" in result.err
    assert "hello from hello" in result.out
    assert "Status: saying hello" in result.out
    assert "Run ended: completed, exit code 0" in result.out
    assert not [e for e in result.err.splitlines() if "running hello here" not in e]


@pytest_twisted.ensureDeferred
async def test_failing_run_without_gateway_exits_1(offline: Path) -> None:
    """
    A failing hook ends the foreground run, and ``al run``, with code 1.
    """
    result = await al("run", "failing", "-p", str(offline))
    assert result.code == 1
    assert "about to fail" in result.out
    assert "pre-hook 2 failed with exit code 3" in result.out


@pytest_twisted.ensureDeferred
async def test_interrupted_run_without_gateway_is_killed(offline: Path) -> None:
    """
    Ctrl-C during a foreground run kills the run, records it, and exits
    with the killed run's code; the project is free afterwards.
    """
    process = spawn(reactor, al_argv("run", "sleeper", "-p", str(offline)))
    await process.wait_for(r"\$ sleep 30", reactor)
    process.signal("INT")
    assert await process.ended == 143, process.output
    assert "Run ended: killed" in process.output
    stats = await al("stats", "sleeper", "--json", "-p", str(offline))
    [run] = json.loads(stats.out)["runs"]
    assert run["result"] == "killed"
    second = await al("run", "hello", "-p", str(offline))
    assert second.code == 0, second.err


@pytest_twisted.ensureDeferred
async def test_run_of_an_unknown_agent_fails(offline: Path) -> None:
    """
    ``al run`` of an agent the project does not have is one error line.
    """
    result = await al("run", "nope", "-p", str(offline))
    assert result.code == 1
    assert one_line_error(result) == "Error: there is no agent called 'nope'"


@pytest_twisted.ensureDeferred
async def test_run_is_refused_while_a_service_holds_the_project(
    offline: Path,
) -> None:
    """
    A service running the project on another port keeps ``al run`` from
    running it a second time, with a line saying which process holds it.
    """
    service = makeService(ServiceOptions(load_project(offline), port=0), reactor)
    service.startService()
    try:
        await ready(service.getServiceNamed("scheduler"))
        result = await al("run", "hello", "-p", str(offline))
    finally:
        await service.stopService()
    assert result.code == 1
    notice, error = result.err.strip().splitlines()
    assert notice.startswith("No gateway at http://127.0.0.1:")
    assert error.startswith("Error: another action-llama service (pid")
    assert error.endswith("set AL_GATEWAY_URL")


@pytest_twisted.ensureDeferred
async def test_stats_summarise_the_runs(offline: Path) -> None:
    """
    ``al stats`` reads the history with no gateway: a summary per agent,
    with AGENT its last runs, and the same as JSON.
    """
    await al("run", "hello", "-p", str(offline))
    await al("run", "failing", "-p", str(offline))
    summary = await al("stats", "--since", "1h", "-p", str(offline))
    detail = await al("stats", "hello", "-p", str(offline))
    as_json = await al("stats", "hello", "--json", "-p", str(offline))
    assert summary.code == 0, summary.err
    rows = {line.split()[0]: line.split() for line in summary.out.splitlines()[2:]}
    assert rows["hello"][1:5] == ["1", "1", "0", "0"]
    assert rows["failing"][1:5] == ["1", "0", "1", "0"]
    assert rows["sleeper"][1:5] == ["0", "0", "0", "0"]
    assert detail.code == 0, detail.err
    [run_line] = [line for line in detail.out.splitlines() if line.startswith("hello-")]
    assert run_line.split()[3:6] == ["manual", "completed", "0"]
    body = json.loads(as_json.out)
    assert [a["agentName"] for a in body["agents"]] == ["hello"]
    assert body["agents"][0]["okRuns"] == 1
    assert body["runs"][0]["instanceId"] == run_line.split()[0]


@pytest_twisted.ensureDeferred
async def test_stats_of_a_new_project_and_bad_arguments(offline: Path) -> None:
    """
    Stats of a project that never ran show zeros; a bad --since is a usage
    error and an unknown agent an error line.
    """
    empty = await al("stats", "--calls", "-p", str(offline))
    bad_window = await al("stats", "--since", "3 fortnights", "-p", str(offline))
    unknown = await al("stats", "nope", "-p", str(offline))
    assert empty.code == 0, empty.err
    assert "No agent calls in the window." in empty.out
    assert bad_window.code == 2 and "30m, 24h or 7d" in bad_window.err
    assert unknown.code == 1
    assert one_line_error(unknown) == "Error: there is no agent called 'nope'"
