"""
The records the store takes and gives back.

Rows come back as frozen attrs records in snake_case; each record's
``to_json()`` gives its camelCase wire shape (SPEC.md 4.4). Times are POSIX
seconds (floats) in Python and epoch milliseconds (ints) on the wire.
"""

from __future__ import annotations

import json
import random
import secrets
import sqlite3
from typing import Any, Literal, TypeVar

from attrs import Factory, fields, frozen

TriggerType = Literal["cron", "webhook", "manual", "agent-call", "replay", "rerun"]
RunOutcome = Literal["running", "completed", "error", "timeout", "killed", "lost"]
TriggerResult = Literal[
    "running",
    "completed",
    "error",
    "timeout",
    "killed",
    "skipped",
    "queued",
    "dropped",
    "dead-letter",
    "lost",
]
CallState = Literal["pending", "running", "completed", "error"]


#: Ids must be unique, not secret (every route that takes one checks who
#: asks), so they come from a fast generator seeded once from the system's
#: randomness rather than a system call per id.
_ids = random.Random(secrets.randbits(128))


def new_id() -> str:
    """
    Make a fresh work, call or receipt id: 16 random hex digits.
    """
    return f"{_ids.getrandbits(64):016x}"


def encode_context(context: dict[str, Any]) -> str:
    """
    Serialise a trigger or call context for its ``TEXT`` column.
    """
    return json.dumps(context, separators=(",", ":"))


def _ms(seconds: float | None) -> int | None:
    """
    Convert POSIX seconds to whole epoch milliseconds, keeping ``None``.
    """
    return None if seconds is None else round(seconds * 1000)


R = TypeVar("R")


def record_from_row(cls: type[R], row: sqlite3.Row, **decoded: Any) -> R:
    """
    Build the attrs record ``cls`` from a row whose columns bear its field
    names; ``decoded`` gives the fields stored encoded (JSON, blobs), and
    fields the row has no column for keep their defaults.
    """
    columns = set(row.keys())
    values = {
        field.name: row[field.name]
        for field in fields(cls)  # type: ignore[arg-type]
        if field.name in columns and field.name not in decoded
    }
    return cls(**values, **decoded)


@frozen
class NewRun:
    """
    A run about to be recorded as started.

    :ivar receipt_id: the webhook receipt behind the run, written to the trigger
        row that ``start_run`` inserts when it is not given one.
    """

    instance_id: str
    agent: str
    trigger_type: TriggerType
    started_at: float
    trigger_source: str | None = None
    context: dict[str, Any] = Factory(dict)
    call_id: str | None = None
    receipt_id: str | None = None


@frozen
class RunRecord:
    """
    One row of ``runs``: a run, finished or still going.

    :ivar outcome: ``running``, ``completed``, ``error``, ``timeout``,
        ``killed`` or ``lost`` (the service stopped while it ran).
    :ivar duration: seconds from start to end; ``None`` while running and for
        lost runs, whose real end is unknown.
    """

    instance_id: str
    agent: str
    trigger_type: str
    trigger_source: str | None
    work_id: str | None
    trigger_id: int | None
    call_id: str | None
    started_at: float
    ended_at: float | None
    outcome: str
    exit_code: int | None
    duration: float | None
    status_text: str | None
    return_value: str | None
    error: str | None
    input_tokens: int
    output_tokens: int
    context: dict[str, Any]

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRecord:
        """
        Build the record from a ``SELECT * FROM runs`` row.
        """
        return record_from_row(cls, row, context=json.loads(row["context"]))

    def to_json(self) -> dict[str, Any]:
        """
        Give the wire shape of a run-history entry (the original tool's field
        names, with ``result`` for the outcome).
        """
        return {
            "instanceId": self.instance_id,
            "agentName": self.agent,
            "triggerType": self.trigger_type,
            "triggerSource": self.trigger_source,
            "result": self.outcome,
            "exitCode": self.exit_code,
            "startedAt": _ms(self.started_at),
            "endedAt": _ms(self.ended_at),
            "durationMs": _ms(self.duration),
            "statusText": self.status_text,
            "returnValue": self.return_value,
            "errorMessage": self.error,
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "callId": self.call_id,
            "workId": self.work_id,
        }


@frozen
class TriggerRecord:
    """
    One row of ``triggers``: something that fired, and what became of it.

    :ivar agent: ``None`` for a webhook receipt that matched no agent.
    """

    id: int
    ts: float
    trigger_type: str
    trigger_source: str | None
    agent: str | None
    instance_id: str | None
    result: str
    receipt_id: str | None
    dead_letter_reason: str | None
    work_id: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> TriggerRecord:
        """
        Build the record from a ``SELECT * FROM triggers`` row.
        """
        return record_from_row(cls, row)

    def to_json(self) -> dict[str, Any]:
        """
        Give the trigger-history entry of SPEC.md 4.4.
        """
        return {
            "ts": _ms(self.ts),
            "triggerType": self.trigger_type,
            "triggerSource": self.trigger_source,
            "agentName": self.agent,
            "instanceId": self.instance_id,
            "result": self.result,
            "webhookReceiptId": self.receipt_id,
            "deadLetterReason": self.dead_letter_reason,
        }


@frozen
class NewWork:
    """
    Work to put in an agent's queue.

    :ivar receipt_id: the webhook receipt behind the work, for its trigger row.
    :ivar work_id: generated unless given.
    """

    agent: str
    trigger_type: TriggerType
    enqueued_at: float
    trigger_source: str | None = None
    context: dict[str, Any] = Factory(dict)
    call_id: str | None = None
    depth: int = 0
    receipt_id: str | None = None
    work_id: str = Factory(new_id)


@frozen
class WorkItem:
    """
    One row of ``work_queue``: work waiting for a runner.

    :ivar seq: the item's place in the queue; it only ever grows.
    :ivar attempts: how many leases of this item did not end in a clean
        ``unlease``, that is how many times it was taken to start.
    :ivar leased_at: set while the item is being started.
    :ivar quarantined_at: set once the item is a dead letter.
    :ivar receipt_id: the webhook receipt behind the work; it lives on the
        item's trigger row, and only ``lease`` (which starts the work) reads
        it from there.
    """

    work_id: str
    seq: int
    agent: str
    enqueued_at: float
    trigger_type: str
    trigger_source: str | None
    context: dict[str, Any]
    call_id: str | None
    depth: int
    trigger_id: int | None
    attempts: int
    leased_at: float | None
    quarantined_at: float | None
    receipt_id: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> WorkItem:
        """
        Build the record from a ``SELECT * FROM work_queue`` row.
        """
        return record_from_row(cls, row, context=json.loads(row["context"]))

    def to_json(self) -> dict[str, Any]:
        """
        Give the wire shape of a queued item.
        """
        return {
            "workId": self.work_id,
            "agentName": self.agent,
            "enqueuedAt": _ms(self.enqueued_at),
            "triggerType": self.trigger_type,
            "triggerSource": self.trigger_source,
            "context": self.context,
            "callId": self.call_id,
            "depth": self.depth,
            "attempts": self.attempts,
            "leasedAt": _ms(self.leased_at),
            "quarantinedAt": _ms(self.quarantined_at),
        }


@frozen
class EnqueueResult:
    """
    What ``enqueue`` did.

    :ivar dropped: the oldest items pushed out of the queue by its bound,
        oldest first; it holds the new item itself when the bound is 0.
    """

    work_id: str
    trigger_id: int
    dropped: tuple[WorkItem, ...]


@frozen
class CallRecord:
    """
    One row of ``calls``: an agent calling another (``al-subagent``).

    :ivar state: ``pending``, ``running``, ``completed`` or ``error``.
    :ivar instance_id: the run serving the call, once it started.
    """

    call_id: str
    caller_instance: str
    caller_agent: str
    target_agent: str
    context: dict[str, Any]
    depth: int
    state: str
    instance_id: str | None
    return_value: str | None
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> CallRecord:
        """
        Build the record from a ``SELECT * FROM calls`` row.
        """
        return record_from_row(cls, row, context=json.loads(row["context"]))

    def to_json(self) -> dict[str, Any]:
        """
        Give the wire shape of a call.
        """
        return {
            "callId": self.call_id,
            "callerInstance": self.caller_instance,
            "callerAgent": self.caller_agent,
            "targetAgent": self.target_agent,
            "context": self.context,
            "depth": self.depth,
            "state": self.state,
            "instanceId": self.instance_id,
            "returnValue": self.return_value,
            "createdAt": _ms(self.created_at),
            "updatedAt": _ms(self.updated_at),
        }


@frozen
class AgentSummary:
    """
    One agent's runs over a period (``al stats``).

    :ivar outcomes: number of runs by outcome.
    :ivar avg_duration: mean seconds over the runs whose duration is known,
        ``None`` if there are none.
    """

    agent: str
    runs: int
    outcomes: dict[str, int]
    avg_duration: float | None
    input_tokens: int
    output_tokens: int

    def to_json(self) -> dict[str, Any]:
        """
        Give the wire shape of a summary (the original tool's field names,
        plus the per-outcome counts and token split).
        """
        return {
            "agentName": self.agent,
            "totalRuns": self.runs,
            "okRuns": self.outcomes.get("completed", 0),
            "errorRuns": self.runs
            - self.outcomes.get("completed", 0)
            - self.outcomes.get("running", 0),
            "outcomes": self.outcomes,
            "avgDurationMs": _ms(self.avg_duration),
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": self.input_tokens + self.output_tokens,
        }


@frozen
class SessionRecord:
    """
    One row of ``sessions``: a browser login session, by the hash of its id
    (the id itself is never stored).
    """

    id_hash: str
    created_at: float
    last_seen_at: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> SessionRecord:
        """
        Build the record from a ``sessions`` row.
        """
        return cls(row["id_hash"], row["created_at"], row["last_seen_at"])
