"""
Operations on runs.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from attrs import evolve

from .._errors import NoSuchRecord
from .._records import AgentSummary, NewRun, RunOutcome, RunRecord, encode_context
from ._common import change_one
from ._history import record_trigger

LOST_ERROR = "the service stopped while it ran"
"""
The error recorded on runs found still running when the service starts.
"""


def start_run(
    conn: sqlite3.Connection,
    run: NewRun,
    trigger_id: int | None,
    work_id: str | None,
) -> None:
    """
    Record ``run`` as started, with its trigger row, and end its work item.
    """
    if trigger_id is None:
        trigger_id = record_trigger(
            conn,
            run.started_at,
            run.trigger_type,
            run.trigger_source,
            run.agent,
            "running",
            instance_id=run.instance_id,
            receipt_id=run.receipt_id,
            work_id=work_id,
        )
    else:
        change_one(
            conn,
            "UPDATE triggers SET result = 'running', instance_id = ? WHERE id = ?",
            (run.instance_id, trigger_id),
            f"trigger {trigger_id}",
        )
    conn.execute(
        "INSERT INTO runs (instance_id, agent, trigger_type, trigger_source,"
        " work_id, trigger_id, call_id, started_at, context)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run.instance_id,
            run.agent,
            run.trigger_type,
            run.trigger_source,
            work_id,
            trigger_id,
            run.call_id,
            run.started_at,
            encode_context(run.context),
        ),
    )
    if work_id is not None:
        change_one(
            conn,
            "DELETE FROM work_queue WHERE work_id = ?",
            (work_id,),
            f"work item {work_id}",
        )


def finish_run(
    conn: sqlite3.Connection,
    instance_id: str,
    ended_at: float,
    outcome: RunOutcome,
    exit_code: int | None,
    error: str | None,
) -> None:
    """
    Record how a run ended, on the run and on its trigger row.
    """
    row = conn.execute(
        "SELECT started_at, trigger_id FROM runs WHERE instance_id = ?",
        (instance_id,),
    ).fetchone()
    if row is None:
        raise NoSuchRecord(f"no run {instance_id}")
    conn.execute(
        "UPDATE runs SET ended_at = ?, duration = ?, outcome = ?, exit_code = ?,"
        " error = ? WHERE instance_id = ?",
        (
            ended_at,
            max(0.0, ended_at - row["started_at"]),
            outcome,
            exit_code,
            error,
            instance_id,
        ),
    )
    conn.execute(
        "UPDATE triggers SET result = ? WHERE id = ?", (outcome, row["trigger_id"])
    )


def set_status_text(conn: sqlite3.Connection, instance_id: str, text: str) -> None:
    """
    Set a run's status text.
    """
    change_one(
        conn,
        "UPDATE runs SET status_text = ? WHERE instance_id = ?",
        (text, instance_id),
        f"run {instance_id}",
    )


def set_return_value(conn: sqlite3.Connection, instance_id: str, value: str) -> None:
    """
    Set a run's return value.
    """
    change_one(
        conn,
        "UPDATE runs SET return_value = ? WHERE instance_id = ?",
        (value, instance_id),
        f"run {instance_id}",
    )


def add_tokens(
    conn: sqlite3.Connection, instance_id: str, input: int, output: int
) -> None:
    """
    Add to a run's token counts.
    """
    change_one(
        conn,
        "UPDATE runs SET input_tokens = input_tokens + ?,"
        " output_tokens = output_tokens + ? WHERE instance_id = ?",
        (input, output, instance_id),
        f"run {instance_id}",
    )


def mark_lost_runs(conn: sqlite3.Connection, now: float) -> list[RunRecord]:
    """
    Record every run still ``running`` as ``lost``; give them, as now stored.
    """
    running = [
        RunRecord.from_row(row)
        for row in conn.execute(
            "SELECT * FROM runs WHERE outcome = 'running' ORDER BY started_at"
        )
    ]
    conn.execute(
        "UPDATE triggers SET result = 'lost' WHERE id IN"
        " (SELECT trigger_id FROM runs WHERE outcome = 'running')"
    )
    conn.execute(
        "UPDATE calls SET state = 'error', updated_at = ? WHERE state = 'running'"
        " AND instance_id IN (SELECT instance_id FROM runs WHERE outcome = 'running')",
        (now,),
    )
    conn.execute(
        "UPDATE runs SET outcome = 'lost', ended_at = ?, error = ?"
        " WHERE outcome = 'running'",
        (now, LOST_ERROR),
    )
    return [
        evolve(run, outcome="lost", ended_at=now, error=LOST_ERROR) for run in running
    ]


def list_runs(
    conn: sqlite3.Connection, agent: str | None, since: float | None, limit: int
) -> list[RunRecord]:
    """
    Give up to ``limit`` runs, newest first, optionally of one agent and
    started at or after ``since``.
    """
    conditions = ["1"]
    parameters: list[Any] = []
    if agent is not None:
        conditions.append("agent = ?")
        parameters.append(agent)
    if since is not None:
        conditions.append("started_at >= ?")
        parameters.append(since)
    return [
        RunRecord.from_row(row)
        for row in conn.execute(
            f"SELECT * FROM runs WHERE {' AND '.join(conditions)}"
            " ORDER BY started_at DESC LIMIT ?",
            (*parameters, limit),
        )
    ]


def get_run(conn: sqlite3.Connection, instance_id: str) -> RunRecord | None:
    """
    Give the run ``instance_id``, if stored.
    """
    row = conn.execute(
        "SELECT * FROM runs WHERE instance_id = ?", (instance_id,)
    ).fetchone()
    return None if row is None else RunRecord.from_row(row)


def run_summary(conn: sqlite3.Connection, since: float) -> dict[str, AgentSummary]:
    """
    Summarise, per agent, the runs started at or after ``since``.
    """
    totals: dict[str, dict[str, Any]] = {}
    for row in conn.execute(
        "SELECT agent, outcome, count(*) AS runs, sum(duration) AS seconds,"
        " count(duration) AS timed, sum(input_tokens) AS input,"
        " sum(output_tokens) AS output FROM runs WHERE started_at >= ?"
        " GROUP BY agent, outcome",
        (since,),
    ):
        agent = totals.setdefault(
            row["agent"],
            {"outcomes": {}, "seconds": 0.0, "timed": 0, "input": 0, "output": 0},
        )
        agent["outcomes"][row["outcome"]] = row["runs"]
        agent["seconds"] += row["seconds"] or 0.0
        agent["timed"] += row["timed"]
        agent["input"] += row["input"]
        agent["output"] += row["output"]
    return {
        name: AgentSummary(
            agent=name,
            runs=sum(t["outcomes"].values()),
            outcomes=t["outcomes"],
            avg_duration=t["seconds"] / t["timed"] if t["timed"] else None,
            input_tokens=t["input"],
            output_tokens=t["output"],
        )
        for name, t in sorted(totals.items())
    }
