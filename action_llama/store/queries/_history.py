"""
Operations on the trigger history.
"""

from __future__ import annotations

import sqlite3

from .._records import TriggerRecord, TriggerResult, TriggerType


def record_trigger(
    conn: sqlite3.Connection,
    ts: float,
    trigger_type: TriggerType,
    source: str | None,
    agent: str | None,
    result: TriggerResult,
    *,
    instance_id: str | None = None,
    receipt_id: str | None = None,
    dead_letter_reason: str | None = None,
    work_id: str | None = None,
) -> int:
    """
    Insert a row into ``triggers`` and give its id.
    """
    cursor = conn.execute(
        "INSERT INTO triggers (ts, trigger_type, trigger_source, agent, result,"
        " instance_id, receipt_id, dead_letter_reason, work_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            ts,
            trigger_type,
            source,
            agent,
            result,
            instance_id,
            receipt_id,
            dead_letter_reason,
            work_id,
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def list_triggers(
    conn: sqlite3.Connection, page: int, limit: int, dead_letter_only: bool
) -> tuple[list[TriggerRecord], int]:
    """
    Give one page of trigger history, newest first, and the total.

    The total comes from ``counters``. The page is found by walking the
    ``(ts, id)`` index (narrow and covering: tens of thousands of entries per
    millisecond) to the page's first key, then reading ``limit`` rows from
    there. The walk starts from whichever end of the history is nearer; a
    plain ``OFFSET`` would read every skipped row whole.

    :raises ValueError: if ``page`` or ``limit`` is below 1.
    """
    if page < 1 or limit < 1:
        raise ValueError(f"page {page} and limit {limit} must be at least 1")
    counter = "dead_letters" if dead_letter_only else "triggers"
    (total,) = conn.execute(
        "SELECT value FROM counters WHERE name = ?", (counter,)
    ).fetchone()
    offset = (page - 1) * limit
    if offset >= total:
        return [], total
    where = "result = 'dead-letter'" if dead_letter_only else "1"
    # XXX the walk costs up to half the history: about 7 ms in the middle of a
    # million entries. Fine while retention keeps the history to a few weeks;
    # a much longer one would want keyset links (page after a given entry).
    if offset <= total // 2:
        direction, comparison, skip, count = "DESC", "<=", offset, limit
    else:
        skip = max(0, total - offset - limit)
        direction, comparison, count = "ASC", ">=", total - offset - skip
    rows = conn.execute(
        f"SELECT * FROM triggers WHERE {where} AND (ts, id) {comparison}"
        f" (SELECT ts, id FROM triggers WHERE {where}"
        f"  ORDER BY ts {direction}, id {direction} LIMIT 1 OFFSET ?)"
        f" ORDER BY ts {direction}, id {direction} LIMIT ?",
        (skip, count),
    ).fetchall()
    if direction == "ASC":
        rows.reverse()
    return [TriggerRecord.from_row(row) for row in rows], total


_PRUNABLE = [
    "DELETE FROM runs WHERE rowid IN (SELECT rowid FROM runs"
    " WHERE started_at < ? AND outcome <> 'running' LIMIT ?)",
    "DELETE FROM triggers WHERE id IN (SELECT id FROM triggers"
    " WHERE ts < ? AND result NOT IN ('running', 'queued') LIMIT ?)",
    "DELETE FROM calls WHERE call_id IN (SELECT call_id FROM calls"
    " WHERE updated_at < ? AND state IN ('completed', 'error') LIMIT ?)",
    "DELETE FROM work_queue WHERE seq IN (SELECT seq FROM work_queue"
    " WHERE quarantined_at < ? LIMIT ?)",
]
"""
What retention deletes: finished runs, triggers no longer in flight, finished
calls and dead-lettered work, each older than the cut-off, a batch at a time.
"""


def prune_batch(conn: sqlite3.Connection, before_ts: float, batch_size: int) -> int:
    """
    Delete up to ``batch_size`` rows that retention no longer keeps; give how
    many were deleted (fewer than ``batch_size`` means none are left).
    """
    deleted = 0
    for sql in _PRUNABLE:
        if deleted < batch_size:
            deleted += conn.execute(sql, (before_ts, batch_size - deleted)).rowcount
    return deleted
