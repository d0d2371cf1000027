"""
``al logs``: an agent's log, or the scheduler's, read straight from the
project's ``.al/logs`` files, so it works whether or not the gateway runs.
"""

from __future__ import annotations

import json
import sys
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from twisted.internet.task import LoopingCall

from ..config import ProjectConfig
from ..logs import agent_log_files, log_path, read_tail
from ._common import CLIError, load_or_exit, project_option, project_root, run_async
from ._display import Show, record_printer
from ._follow import LogFollower

#: The stem of the scheduler's own log files.
SCHEDULER = "scheduler"

#: Seconds between two looks at a followed file.
FOLLOW_INTERVAL = 0.2


@click.command()
@project_option
@click.argument("agent", required=False)
@click.option(
    "-n",
    "--lines",
    "count",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="How many of the last lines to show.",
)
@click.option("-f", "--follow", is_flag=True, help="Keep showing new lines.")
@click.option(
    "-d",
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Show the lines of this day (YYYY-MM-DD).",
)
@click.option("-r", "--raw", is_flag=True, help="Print the stored JSON lines.")
@click.option("-i", "--instance", help="Only the lines of this run instance.")
@click.pass_context
def logs(
    ctx: click.Context,
    agent: str | None,
    count: int,
    follow: bool,
    day: datetime | None,
    raw: bool,
    instance: str | None,
) -> None:
    """
    Show the last lines of AGENT's log, or of the scheduler's log when no
    AGENT is given.

    With -i alone, the agent is the one the instance id names.
    """
    if follow and day is not None:
        raise click.UsageError("-f follows today's log; it cannot go with -d")
    project = load_or_exit(project_root(ctx))
    directory = project.state_dir / "logs"
    stem = _stem(project, directory, agent, instance)
    show = record_printer(raw, sys.stdout.isatty())
    if follow:
        run_async(
            lambda reactor: _follow(reactor, directory, stem, count, instance, show)
        )
    if day is not None:
        records = _day_tail(directory, stem, day, count, instance)
    else:
        records = read_tail(directory, stem, count, instance) if count else []
    if not records:
        where = f" on {day:%Y-%m-%d}" if day is not None else ""
        click.echo(f"No log lines for {stem}{where} in {directory}.", err=True)
    for record in records:
        show(record)


def _stem(
    project: ProjectConfig, directory: Path, agent: str | None, instance: str | None
) -> str:
    """
    Whose log to read: ``agent``, the agent an instance id names, or the
    scheduler.

    :raises CLIError: for an agent that is neither in the project nor in
        the logs.
    """
    names = {a.name for a in project.agents}
    if agent is None and instance is not None:
        agent = instance.rsplit("-", 1)[0]
        if agent not in names and not agent_log_files(directory, agent):
            raise CLIError(
                f"cannot tell which agent ran {instance!r}; name it: "
                f"al logs <agent> -i {instance}"
            )
    if agent is None:
        return SCHEDULER
    if agent not in names and not agent_log_files(directory, agent):
        raise CLIError(f"there is no agent called {agent!r}")
    return agent


def _day_tail(
    directory: Path, stem: str, day: datetime, count: int, instance: str | None
) -> list[dict[str, Any]]:
    """
    The last ``count`` records of one day's file.
    """
    path = log_path(directory, stem, f"{day:%Y-%m-%d}")
    if not path.exists() or count == 0:
        return []
    kept: deque[dict[str, Any]] = deque(maxlen=count)
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and (
                instance is None or record.get("instance") == instance
            ):
                kept.append(record)
    return list(kept)


async def _follow(
    reactor: Any,
    directory: Path,
    stem: str,
    count: int,
    instance: str | None,
    show: Show,
) -> int:
    """
    Show the last ``count`` records, then each new one as it is written,
    until interrupted.
    """
    follower = LogFollower(directory, stem, reactor)
    shown = read_tail(directory, stem, count, instance) if count else []
    for record in shown:
        show(record)

    def look() -> None:
        # Records written between making the follower and reading the tail
        # come once more in the first poll; skip them.
        records = [r for r in follower.poll() if r not in shown]
        shown.clear()
        for record in records:
            if instance is None or record.get("instance") == instance:
                show(record)

    loop = LoopingCall(look)
    loop.clock = reactor
    await loop.start(FOLLOW_INTERVAL)
    return 0
