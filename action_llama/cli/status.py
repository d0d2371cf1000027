"""
``al stat``: one line per agent, from the running gateway's status
snapshot, or from the configuration alone when the gateway is down.
"""

from __future__ import annotations

from typing import Any

import click

from ..config import AgentConfig, ProjectConfig
from ._client import GatewayClient, GatewayNotRunning
from ._common import load_or_exit, project_option, project_root, run_async
from ._display import one_line, parse_iso, short_time, table

HEADERS = ("AGENT", "STATE", "SCHEDULE", "NEXT RUN", "QUEUE", "STATUS")


@click.command()
@project_option
@click.pass_context
def stat(ctx: click.Context) -> None:
    """
    Show each agent's state, schedule, next run, queue depth and status.

    When the gateway is not running, shows what the configuration says.
    """
    project = load_or_exit(project_root(ctx))
    run_async(lambda reactor: _stat(reactor, project))


async def _stat(reactor: Any, project: ProjectConfig) -> int:
    """
    Print the table; exit code 0 whether or not the gateway runs.
    """
    client = GatewayClient.for_project(reactor, project)
    try:
        snapshot = await client.get("/control/status")
    except GatewayNotRunning:
        click.echo(
            f"The gateway is not running at {client.base_url}; this is the "
            "configuration only."
        )
        lines = table(HEADERS, [_configured(agent) for agent in project.agents])
    else:
        lines = _live(snapshot, client.base_url, reactor.seconds())
    for line in lines:
        click.echo(line)
    return 0


def _configured(agent: AgentConfig) -> list[str]:
    """
    An agent's row when only its configuration is known.
    """
    state = "-" if agent.enabled_by_config else "disabled"
    return [agent.name, state, agent.schedule or "-", "-", "-", "-"]


def _live(snapshot: dict[str, Any], url: str, now: float) -> list[str]:
    """
    The header, the agents' table and the running instances of a status
    snapshot.
    """
    info = snapshot.get("schedulerInfo", {})
    if info.get("stopping"):
        state = "stopping"
    else:
        state = "paused" if info.get("paused") else "running"
    instances = snapshot.get("instances", [])
    lines = [
        f"Scheduler {state} (gateway {url}); {len(instances)} instance(s) running."
    ]
    rows = [
        [
            agent["name"],
            agent.get("state") or "-",
            agent.get("schedule") or "-",
            short_time(_time(agent.get("nextRunAt")), now),
            str(agent.get("queueDepth", 0)),
            one_line(agent.get("statusText")),
        ]
        for agent in snapshot.get("agents", [])
    ]
    lines += table(HEADERS, rows)
    if instances:
        lines += ["", "Running instances:"]
        rows = [
            [
                instance["id"],
                instance.get("agentName") or "-",
                short_time(_time(instance.get("startedAt")), now),
                instance.get("trigger") or "-",
            ]
            for instance in instances
        ]
        lines += [
            "  " + line for line in table(("ID", "AGENT", "STARTED", "TRIGGER"), rows)
        ]
    return lines


def _time(text: str | None) -> float | None:
    """
    The POSIX time of an ISO time stamp from the snapshot, if there is one.
    """
    return parse_iso(text) if text else None
