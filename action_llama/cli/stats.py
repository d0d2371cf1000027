"""
``al stats``: run history and per-agent summaries, read straight from the
project database (``Database.run_sync`` with the store's queries), so it
works whether or not the gateway runs.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time

import click
from attrs import frozen
from twisted.internet.interfaces import IReactorFromThreads

from ..config import ProjectConfig
from ..logs import iso_time
from ..service import database_path
from ..store import AgentSummary, Database, RunRecord, SchemaTooNew, queries
from ._common import CLIError, load_or_exit, project_option, project_root
from ._display import duration, one_line, table

#: Seconds in each unit ``--since`` accepts.
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

#: How many of the newest runs in the window ``--calls`` looks through.
_CALL_SCAN = 5000


class Window(click.ParamType):
    """
    A length of time such as ``30m``, ``24h`` or ``7d``, in seconds.
    """

    name = "window"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        match = re.fullmatch(r"(\d+)([smhdw])", str(value).strip())
        if match is None:
            self.fail(
                f"{value!r} is not a length of time such as 30m, 24h or 7d", param, ctx
            )
        return float(int(match.group(1)) * _UNITS[match.group(2)])


@frozen
class History:
    """
    What ``al stats`` read from the database.

    :ivar summaries: per agent, the runs since the cut-off.
    :ivar runs: the last runs of the agent asked about, newest first.
    :ivar calls: runs that answered an agent call, newest first.
    """

    summaries: dict[str, AgentSummary]
    runs: list[RunRecord]
    calls: list[RunRecord]


@click.command()
@project_option
@click.argument("agent", required=False)
@click.option(
    "--since",
    "window",
    type=Window(),
    default="24h",
    show_default=True,
    help="How far back the summary goes: 30m, 24h, 7d.",
)
@click.option(
    "-n",
    "--runs",
    "count",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many of AGENT's last runs (and of the calls) to list.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--calls", is_flag=True, help="List the agent calls in the window.")
@click.pass_context
def stats(
    ctx: click.Context,
    agent: str | None,
    window: float,
    count: int,
    as_json: bool,
    calls: bool,
) -> None:
    """
    Summarise the runs of each agent (or of AGENT) since --since; with AGENT,
    also list its last runs.
    """
    project = load_or_exit(project_root(ctx))
    cutoff = time.time() - window
    history = _read(project, agent, cutoff, count, calls)
    names = [a.name for a in project.agents]
    if agent is not None:
        if agent not in names and agent not in history.summaries and not history.runs:
            raise CLIError(f"there is no agent called {agent!r}")
        names = [agent]
    else:
        names += sorted(set(history.summaries) - set(names))
    summaries = [
        history.summaries.get(name) or AgentSummary(name, 0, {}, None, 0, 0)
        for name in names
    ]
    if as_json:
        body: dict[str, object] = {
            "since": iso_time(cutoff),
            "agents": [summary.to_json() for summary in summaries],
        }
        if agent is not None:
            body["runs"] = [run.to_json() for run in history.runs]
        if calls:
            body["calls"] = [run.to_json() for run in history.calls]
        click.echo(json.dumps(body, indent=2))
        return
    click.echo(f"Runs since {_when(cutoff)}:")
    for line in table(
        ("AGENT", "RUNS", "OK", "ERRORS", "TIMEOUTS", "AVG DURATION", "TOKENS"),
        [_summary_row(summary) for summary in summaries],
    ):
        click.echo(line)
    if agent is not None:
        _show_runs(agent, history.runs)
    if calls:
        _show_calls(history.calls)


def _read(
    project: ProjectConfig, agent: str | None, cutoff: float, count: int, calls: bool
) -> History:
    """
    Read the history from the project database; an empty one if there is no
    database yet.

    :raises CLIError: if the database cannot be read.
    """
    path = database_path(project)
    if not path.exists():
        return History({}, [], [])

    def read(conn: sqlite3.Connection) -> History:
        runs = queries.list_runs(conn, agent, None, count) if agent else []
        call_runs = []
        if calls:
            # XXX calls are found among the newest runs of the window, so a
            # call still waiting in a queue is not listed; a list_calls query
            # in the store would read the calls table itself.
            call_runs = [
                run
                for run in queries.list_runs(conn, None, cutoff, _CALL_SCAN)
                if run.call_id and agent in (None, run.agent, run.trigger_source)
            ][:count]
        return History(queries.run_summary(conn, cutoff), runs, call_runs)

    from twisted.internet import reactor

    try:
        return Database(path, IReactorFromThreads(reactor)).run_sync(read)
    except (sqlite3.Error, SchemaTooNew) as e:
        raise CLIError(f"cannot read the run history in {path}: {e}") from None


def _when(ts: float) -> str:
    """
    A local date and time to the second.
    """
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _tokens(count: int) -> str:
    """
    A token count with thousands separators.
    """
    return f"{count:,}"


def _summary_row(summary: AgentSummary) -> list[str]:
    """
    One agent's row of the summary table.
    """
    ok = summary.outcomes.get("completed", 0)
    timeouts = summary.outcomes.get("timeout", 0)
    errors = summary.runs - ok - timeouts - summary.outcomes.get("running", 0)
    return [
        summary.agent,
        str(summary.runs),
        str(ok),
        str(errors),
        str(timeouts),
        duration(summary.avg_duration),
        _tokens(summary.input_tokens + summary.output_tokens),
    ]


def _show_runs(agent: str, runs: list[RunRecord]) -> None:
    """
    Print the last runs of ``agent``.
    """
    click.echo("")
    if not runs:
        click.echo(f"No runs of {agent} are recorded.")
        return
    click.echo(f"Last {len(runs)} run(s) of {agent}:")
    rows = [
        [
            run.instance_id,
            _when(run.started_at),
            run.trigger_type,
            run.outcome,
            "-" if run.exit_code is None else str(run.exit_code),
            duration(run.duration),
            _tokens(run.input_tokens + run.output_tokens),
        ]
        for run in runs
    ]
    headers = ("INSTANCE", "STARTED", "TRIGGER", "RESULT", "EXIT", "DURATION", "TOKENS")
    for line in table(headers, rows):
        click.echo(line)


def _show_calls(runs: list[RunRecord]) -> None:
    """
    Print the runs that answered agent calls.
    """
    click.echo("")
    if not runs:
        click.echo("No agent calls in the window.")
        return
    click.echo("Agent calls:")
    rows = [
        [
            _when(run.started_at),
            run.trigger_source or "-",
            run.agent,
            run.instance_id,
            run.outcome,
            one_line(run.return_value, 40),
        ]
        for run in runs
    ]
    headers = ("STARTED", "CALLER", "TARGET", "INSTANCE", "RESULT", "RETURN")
    for line in table(headers, rows):
        click.echo(line)
