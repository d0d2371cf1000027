"""
Operations on the work queue and on calls.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from attrs import evolve

from .._records import (
    CallRecord,
    CallState,
    EnqueueResult,
    NewWork,
    WorkItem,
    encode_context,
)
from ._common import change_one
from ._history import record_trigger


def enqueue(conn: sqlite3.Connection, item: NewWork, bound: int) -> EnqueueResult:
    """
    Queue ``item`` with a ``queued`` trigger row, then drop what overflows.
    """
    trigger_id = record_trigger(
        conn,
        item.enqueued_at,
        item.trigger_type,
        item.trigger_source,
        item.agent,
        "queued",
        receipt_id=item.receipt_id,
        work_id=item.work_id,
    )
    conn.execute(
        "INSERT INTO work_queue (work_id, agent, enqueued_at, trigger_type,"
        " trigger_source, context, call_id, depth, trigger_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            item.work_id,
            item.agent,
            item.enqueued_at,
            item.trigger_type,
            item.trigger_source,
            encode_context(item.context),
            item.call_id,
            item.depth,
            trigger_id,
        ),
    )
    (depth,) = conn.execute(
        "SELECT depth FROM queue_depths WHERE agent = ?", (item.agent,)
    ).fetchone()
    dropped: list[WorkItem] = []
    if depth > bound:
        dropped = [
            WorkItem.from_row(row)
            for row in conn.execute(
                "SELECT * FROM work_queue WHERE agent = ? AND quarantined_at IS NULL"
                " AND leased_at IS NULL ORDER BY seq LIMIT ?",
                (item.agent, depth - bound),
            )
        ]
        conn.executemany(
            "DELETE FROM work_queue WHERE seq = ?", [(w.seq,) for w in dropped]
        )
        conn.executemany(
            "UPDATE triggers SET result = 'dropped' WHERE id = ?",
            [(w.trigger_id,) for w in dropped],
        )
    return EnqueueResult(item.work_id, trigger_id, tuple(dropped))


def lease(conn: sqlite3.Connection, agent: str, now: float) -> WorkItem | None:
    """
    Lease the oldest waiting item of ``agent``, if there is one.
    """
    row = conn.execute(
        "SELECT * FROM work_queue WHERE agent = ? AND quarantined_at IS NULL"
        " AND leased_at IS NULL ORDER BY seq LIMIT 1",
        (agent,),
    ).fetchone()
    if row is None:
        return None
    item = WorkItem.from_row(row)
    conn.execute(
        "UPDATE work_queue SET leased_at = ?, attempts = attempts + 1 WHERE seq = ?",
        (now, item.seq),
    )
    receipt = conn.execute(
        "SELECT receipt_id FROM triggers WHERE id = ?", (item.trigger_id,)
    ).fetchone()
    return evolve(
        item,
        leased_at=now,
        attempts=item.attempts + 1,
        receipt_id=receipt["receipt_id"] if receipt is not None else None,
    )


def unlease(conn: sqlite3.Connection, work_id: str) -> None:
    """
    Put a leased item back, taking back the attempt its lease counted.
    """
    change_one(
        conn,
        "UPDATE work_queue SET leased_at = NULL, attempts = attempts - 1"
        " WHERE work_id = ? AND leased_at IS NOT NULL",
        (work_id,),
        f"leased work item {work_id}",
    )


def recover_leases(
    conn: sqlite3.Connection, now: float, max_attempts: int
) -> list[WorkItem]:
    """
    End every lease a dead service left; quarantine the items that used up
    ``max_attempts``, and give those.
    """
    exhausted = [
        WorkItem.from_row(row)
        for row in conn.execute(
            "SELECT * FROM work_queue WHERE leased_at IS NOT NULL"
            " AND quarantined_at IS NULL AND attempts >= ? ORDER BY seq",
            (max_attempts,),
        )
    ]
    conn.executemany(
        "UPDATE work_queue SET leased_at = NULL, quarantined_at = ? WHERE seq = ?",
        [(now, item.seq) for item in exhausted],
    )
    conn.executemany(
        "UPDATE triggers SET result = 'dead-letter',"
        " dead_letter_reason = 'crashed_repeatedly' WHERE id = ?",
        [(item.trigger_id,) for item in exhausted],
    )
    conn.execute("UPDATE work_queue SET leased_at = NULL WHERE leased_at IS NOT NULL")
    return [evolve(item, leased_at=None, quarantined_at=now) for item in exhausted]


def queue_depths(conn: sqlite3.Connection) -> dict[str, int]:
    """
    Count the items in each agent's queue, quarantined ones aside.
    """
    return {
        agent: depth
        for agent, depth in conn.execute(
            "SELECT agent, depth FROM queue_depths WHERE depth > 0"
        )
    }


def queued(conn: sqlite3.Connection, agent: str) -> list[WorkItem]:
    """
    Give the items in ``agent``'s queue, oldest first, quarantined ones aside.
    """
    return [
        WorkItem.from_row(row)
        for row in conn.execute(
            "SELECT * FROM work_queue WHERE agent = ? AND quarantined_at IS NULL"
            " ORDER BY seq",
            (agent,),
        )
    ]


def create_call(
    conn: sqlite3.Connection,
    call_id: str,
    caller_instance: str,
    caller_agent: str,
    target_agent: str,
    context: dict[str, Any],
    depth: int,
    now: float,
) -> CallRecord:
    """
    Insert a ``pending`` call and give it.
    """
    conn.execute(
        "INSERT INTO calls (call_id, caller_instance, caller_agent, target_agent,"
        " context, depth, state, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
        (
            call_id,
            caller_instance,
            caller_agent,
            target_agent,
            encode_context(context),
            depth,
            now,
            now,
        ),
    )
    return CallRecord(
        call_id=call_id,
        caller_instance=caller_instance,
        caller_agent=caller_agent,
        target_agent=target_agent,
        context=context,
        depth=depth,
        state="pending",
        instance_id=None,
        return_value=None,
        created_at=now,
        updated_at=now,
    )


def update_call(
    conn: sqlite3.Connection,
    call_id: str,
    state: CallState,
    now: float,
    instance_id: str | None,
    return_value: str | None,
) -> None:
    """
    Move a call to ``state``, setting its run and return value when given.
    """
    change_one(
        conn,
        "UPDATE calls SET state = ?, updated_at = ?,"
        " instance_id = coalesce(?, instance_id),"
        " return_value = coalesce(?, return_value) WHERE call_id = ?",
        (state, now, instance_id, return_value, call_id),
        f"call {call_id}",
    )


def get_call(conn: sqlite3.Connection, call_id: str) -> CallRecord | None:
    """
    Give the call ``call_id``, if stored.
    """
    row = conn.execute("SELECT * FROM calls WHERE call_id = ?", (call_id,)).fetchone()
    return None if row is None else CallRecord.from_row(row)
