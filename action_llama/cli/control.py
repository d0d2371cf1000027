"""
``al pause``, ``al resume``, ``al kill`` and ``al stop``: steering the
running service through the gateway's control API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from ._client import GatewayClient, GatewayError
from ._common import load_or_exit, project_option, project_root, run_async


def _segment(text: str) -> str:
    """
    ``text`` as one path segment of a URL.
    """
    return quote(text, safe="")


@click.command()
@project_option
@click.argument("name", required=False)
@click.pass_context
def pause(ctx: click.Context, name: str | None) -> None:
    """
    Pause the scheduler, or only the agent NAME.

    A paused scheduler fires no cron runs and holds other work in the queue
    until `al resume`; a paused agent is disabled: its cron stops and its
    triggers are refused.
    """

    _scheduler_or_agent(
        ctx,
        "pause",
        name,
        "Scheduler paused: no cron runs fire; other work waits.",
        "paused: its cron stops; triggers are refused.",
    )


@click.command()
@project_option
@click.argument("name", required=False)
@click.pass_context
def resume(ctx: click.Context, name: str | None) -> None:
    """
    Resume the scheduler (held work drains in order), or only the agent NAME.
    """

    _scheduler_or_agent(ctx, "resume", name, "Scheduler resumed.", "resumed.")


def _scheduler_or_agent(
    ctx: click.Context,
    verb: str,
    name: str | None,
    scheduler_done: str,
    agent_done: str,
) -> None:
    """
    POST ``/control/<verb>`` (no ``name``) or ``/control/agents/<name>/<verb>``
    and say what happened.
    """
    project = load_or_exit(project_root(ctx))

    async def main(reactor: Any) -> int:
        client = GatewayClient.for_project(reactor, project)
        if name is None:
            await client.post(f"/control/{verb}")
            click.echo(scheduler_done)
        else:
            await client.post(f"/control/agents/{_segment(name)}/{verb}")
            click.echo(f"Agent {name} {agent_done}")
        return 0

    run_async(main)


@click.command()
@project_option
@click.argument("target")
@click.pass_context
def kill(ctx: click.Context, target: str) -> None:
    """
    Kill every running instance of the agent TARGET, or else the running
    instance with id TARGET. A killed agent stays enabled.
    """

    project = load_or_exit(project_root(ctx))

    async def main(reactor: Any) -> int:
        client = GatewayClient.for_project(reactor, project)
        answer = await client.request(
            "POST", f"/control/agents/{_segment(target)}/kill", accept=(200, 404)
        )
        if answer.code == 404:
            answer = await client.request(
                "POST", f"/control/kill/{_segment(target)}", accept=(200, 404)
            )
        if answer.code == 404:
            raise GatewayError(
                f"there is no agent or running instance called {target!r}"
            )
        killed = answer.body.get("killed", [])
        if not killed:
            click.echo(f"{target} has no running instances.")
        for instance_id in killed:
            click.echo(f"Killed {instance_id}.")
        return 0

    run_async(main)


@click.command()
@project_option
@click.pass_context
def stop(ctx: click.Context) -> None:
    """
    Stop the service gracefully: no new runs, queued work is kept for the
    next start, and runs in flight finish first.
    """

    project = load_or_exit(project_root(ctx))

    async def main(reactor: Any) -> int:
        await GatewayClient.for_project(reactor, project).post("/control/stop")
        click.echo("The service is stopping (in-flight runs finish first).")
        return 0

    run_async(main)
