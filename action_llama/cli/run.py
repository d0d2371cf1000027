"""
``al run``: one run of an agent in the foreground, ending with the run's
exit code (0 completed, 1 error, 124 timeout).

If the project's gateway is running, the run is triggered there (queued if
the agent is busy) and followed through the agent's log file and the run
history. Otherwise the run happens in this process (see `LocalRun`).
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any
from urllib.parse import quote

import click
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import globalLogBeginner

from ..config import ProjectConfig
from ..observers import DailyJSONFileObserver
from ..scheduler import Trigger
from ..service import database_path
from ..store import Database, RunRecord, queries
from ._client import GatewayClient, GatewayNotRunning
from ._common import CLIError, load_or_exit, project_option, project_root, run_async
from ._display import Show, record_printer
from ._follow import LogFollower
from ._local_run import LocalRun

#: Seconds between two looks at a run the gateway started.
FOLLOW_INTERVAL = 0.2


@click.command()
@project_option
@click.argument("agent")
@click.pass_context
def run(ctx: click.Context, agent: str) -> None:
    """
    Run AGENT once in the foreground, show its log as it goes, and exit
    with its exit code.

    With the gateway running, the run is triggered there; otherwise it runs
    here, without the scheduler.
    """
    project = load_or_exit(project_root(ctx))
    if agent not in {a.name for a in project.agents}:
        raise CLIError(f"there is no agent called {agent!r}")
    show = record_printer(raw=False, colour=sys.stdout.isatty())
    run_async(lambda reactor: run_agent_once(reactor, project, agent, show))


async def run_agent_once(
    reactor: Any,
    project: ProjectConfig,
    agent: str,
    show: Show,
    trigger: Trigger | None = None,
) -> int:
    """
    Run ``agent`` through the gateway if it runs, else here.

    :param trigger: why the run starts; a manual trigger if not given. The
        gateway takes manual triggers only, so there its context is sent as
        the manual trigger's context.
    :returns: the run's exit code.
    """
    client = GatewayClient.for_project(reactor, project)
    follower = LogFollower(project.state_dir / "logs", agent, reactor)
    since = reactor.seconds()
    try:
        admission = await client.post(
            f"/control/trigger/{quote(agent, safe='')}",
            {"context": dict(trigger.context)} if trigger is not None else None,
        )
    except GatewayNotRunning:
        click.echo(f"No gateway at {client.base_url}; running {agent} here.", err=True)
        globalLogBeginner.beginLoggingTo(
            [DailyJSONFileObserver(project.state_dir / "logs", "scheduler")],
            redirectStandardIO=False,
        )
        return _exit_code(await LocalRun(reactor, project, agent, show, trigger).run())
    if admission.get("instanceId") is None:
        click.echo(
            f"{agent} is busy; the run is queued (work {admission.get('workId')}).",
            err=True,
        )
    run = await _follow(reactor, project, agent, admission, since, follower, show)
    return _exit_code(run)


async def _follow(
    reactor: Any,
    project: ProjectConfig,
    agent: str,
    admission: dict[str, Any],
    since: float,
    follower: LogFollower,
    show: Show,
) -> RunRecord:
    """
    Show the log records of the run the gateway admitted, until the run
    history says it has ended.

    :param since: a time before the trigger, to find a queued run by.
    :returns: the ended run.
    """
    db = Database(str(database_path(project)), reactor)
    instance_id: str | None = admission.get("instanceId")
    work_id: str | None = admission.get("workId")
    waiting: list[dict[str, Any]] = []
    ended: list[RunRecord] = []

    def find(conn: sqlite3.Connection) -> RunRecord | None:
        if instance_id is not None:
            return queries.get_run(conn, instance_id)
        for candidate in queries.list_runs(conn, agent, since, 100):
            if candidate.work_id == work_id:
                return candidate
        return None

    async def look() -> None:
        nonlocal instance_id
        # The history is read before the log: a run is recorded as ended only
        # after its last log line is written, so no line is missed.
        found = await deferToThreadPool(
            reactor, reactor.getThreadPool(), db.run_sync, find
        )
        if found is not None:
            instance_id = found.instance_id
        waiting.extend(follower.poll())
        if instance_id is not None:
            for record in waiting:
                if record.get("instance") == instance_id:
                    show(record)
            waiting.clear()
        if found is not None and found.outcome != "running":
            ended.append(found)
            loop.stop()

    loop = LoopingCall(lambda: ensureDeferred(look()))
    loop.clock = reactor
    await loop.start(FOLLOW_INTERVAL)
    return ended[0]


def _exit_code(run: RunRecord) -> int:
    """
    The exit code ``al run`` ends with for ``run``.
    """
    if run.exit_code is not None:
        return run.exit_code
    return 0 if run.outcome == "completed" else 1
