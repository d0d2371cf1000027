"""
Webhook receipts: every delivery the gateway received, stored before it is
answered.

A receipt keeps the headers that matter and the raw body byte for byte, so a
replay sends exactly what arrived. Deliveries that failed their signature
keep only a bounded prefix of the body, so forged traffic cannot fill the
disk. The provider's own delivery id is unique among accepted receipts
(verified, or unsigned on a source with no secret), enforced by a partial
unique index: a forged copy can never block the real delivery, and a
delivery that was refused for its signature can be delivered again.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from attrs import frozen
from twisted.internet.defer import Deferred

from ._db import Database
from ._records import new_id, record_from_row
from .queries._history import record_trigger

#: Verdicts under which a delivery was accepted; only these dedupe.
ACCEPTED = ("verified", "unsigned")

#: How much of a refused delivery's body is kept.
REFUSED_BODY_PREFIX = 4096


class DuplicateDelivery(Exception):
    """
    A delivery id that an accepted receipt already has.

    :ivar receipt_id: the receipt of the first delivery.
    :ivar dispatched: whether the first delivery reached the trigger history
        (dispatched, queued or dead-lettered); if not, its dispatch was lost
        and the redelivery should take its place.
    """

    def __init__(self, receipt_id: str, dispatched: bool) -> None:
        super().__init__(receipt_id)
        self.receipt_id = receipt_id
        self.dispatched = dispatched


@frozen
class NewReceipt:
    """
    A delivery about to be stored.
    """

    received_at: float
    provider: str
    source: str | None
    delivery_id: str | None
    verdict: str
    headers: dict[str, str]
    body: bytes
    event: str | None = None
    matched: tuple[str, ...] = ()
    dead_letter_reason: str | None = None
    replay_of: str | None = None


@frozen
class Receipt:
    """
    A stored delivery.
    """

    receipt_id: str
    received_at: float
    provider: str
    source: str | None
    delivery_id: str | None
    verdict: str
    headers: dict[str, str]
    body: bytes
    body_size: int
    event: str | None
    matched: tuple[str, ...]
    dead_letter_reason: str | None
    replay_of: str | None

    @property
    def complete(self) -> bool:
        """
        Whether the whole body was kept.
        """
        return len(self.body) == self.body_size

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Receipt:
        """
        Build the record from a ``SELECT * FROM receipts`` row.
        """
        return record_from_row(
            cls,
            row,
            headers=json.loads(row["headers"]),
            body=bytes(row["body"]),
            matched=tuple(json.loads(row["matched"])),
        )

    def to_json(self, with_body: bool = False) -> dict[str, Any]:
        """
        The wire shape of a receipt; the body only when asked for, as text
        where it is UTF-8.
        """
        shape: dict[str, Any] = {
            "receiptId": self.receipt_id,
            "receivedAt": round(self.received_at * 1000),
            "provider": self.provider,
            "source": self.source,
            "deliveryId": self.delivery_id,
            "verdict": self.verdict,
            "event": self.event,
            "matched": list(self.matched),
            "deadLetterReason": self.dead_letter_reason,
            "replayOf": self.replay_of,
            "bodySize": self.body_size,
            "bodyComplete": self.complete,
        }
        if with_body:
            shape["headers"] = self.headers
            try:
                shape["body"] = self.body.decode("utf-8")
            except UnicodeDecodeError:
                shape["bodyHex"] = self.body.hex()
        return shape


def _insert(
    conn: sqlite3.Connection,
    receipt: NewReceipt,
    dead_letter_ts: float | None,
    receipt_id: str,
) -> str:
    accepted = receipt.verdict in ACCEPTED
    body = receipt.body if accepted else receipt.body[:REFUSED_BODY_PREFIX]
    try:
        conn.execute(
            "INSERT INTO receipts (receipt_id, received_at, provider, source,"
            " delivery_id, verdict, headers, body, body_size, event, matched,"
            " dead_letter_reason, replay_of)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                receipt_id,
                receipt.received_at,
                receipt.provider,
                receipt.source,
                receipt.delivery_id,
                receipt.verdict,
                json.dumps(receipt.headers),
                body,
                len(receipt.body),
                receipt.event,
                json.dumps(list(receipt.matched)),
                receipt.dead_letter_reason,
                receipt.replay_of,
            ),
        )
    except sqlite3.IntegrityError:
        row = conn.execute(
            "SELECT receipt_id FROM receipts WHERE provider = ? AND source IS ?"
            " AND delivery_id = ? AND replay_of IS NULL"
            " AND verdict IN ('verified', 'unsigned')",
            (receipt.provider, receipt.source, receipt.delivery_id),
        ).fetchone()
        if row is None:
            raise
        raise DuplicateDelivery(
            row["receipt_id"], _dispatched(conn, row["receipt_id"])
        ) from None
    if receipt.dead_letter_reason is not None and dead_letter_ts is not None:
        record_trigger(
            conn,
            dead_letter_ts,
            "replay" if receipt.replay_of else "webhook",
            receipt.source or receipt.provider,
            None,
            "dead-letter",
            receipt_id=receipt_id,
            dead_letter_reason=receipt.dead_letter_reason,
        )
    return receipt_id


def _dispatched(conn: sqlite3.Connection, receipt_id: str) -> bool:
    """
    Whether a receipt has any row in the trigger history.
    """
    row = conn.execute(
        "SELECT 1 FROM triggers WHERE receipt_id = ? LIMIT 1", (receipt_id,)
    ).fetchone()
    return row is not None


class ReceiptStore:
    """
    Stores and reads webhook receipts.

    :param db: the started project database.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, receipt: NewReceipt, receipt_id: str | None = None) -> Deferred[str]:
        """
        Store a delivery durably; a dead letter also gets its row in the
        trigger history, in the same transaction.

        :param receipt_id: the id to store it under; a new one if ``None``.
        :returns: a Deferred that fires with the receipt id once committed.
            It fails with `DuplicateDelivery` if an accepted receipt has the
            same delivery id.
        """
        return self._db.run(self.insert_operation(receipt, receipt_id or new_id()))

    def insert_operation(
        self, receipt: NewReceipt, receipt_id: str
    ) -> Callable[[sqlite3.Connection], str]:
        """
        The write that stores ``receipt`` under ``receipt_id``, to run inside
        another transaction (the first dispatch of the delivery), so that the
        receipt and the work it causes are committed together.

        :returns: the write; it raises `DuplicateDelivery` as `add` fails.
        """
        return lambda conn: _insert(conn, receipt, receipt.received_at, receipt_id)

    def set_outcome(
        self,
        receipt_id: str,
        matched: tuple[str, ...],
        dead_letter_reason: str | None,
        ts: float,
    ) -> Deferred[None]:
        """
        Record what became of a stored delivery once it was dispatched (a
        dead letter gets its row in the trigger history).
        """

        def update(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE receipts SET matched = ?, dead_letter_reason = ?"
                " WHERE receipt_id = ?",
                (json.dumps(list(matched)), dead_letter_reason, receipt_id),
            )
            if dead_letter_reason is not None:
                row = conn.execute(
                    "SELECT source, provider, replay_of FROM receipts"
                    " WHERE receipt_id = ?",
                    (receipt_id,),
                ).fetchone()
                record_trigger(
                    conn,
                    ts,
                    "replay" if row["replay_of"] else "webhook",
                    row["source"] or row["provider"],
                    None,
                    "dead-letter",
                    receipt_id=receipt_id,
                    dead_letter_reason=dead_letter_reason,
                )

        return self._db.run(update)

    def get(self, receipt_id: str) -> Deferred[Receipt | None]:
        """
        One receipt, or ``None``.
        """

        def read(conn: sqlite3.Connection) -> Receipt | None:
            row = conn.execute(
                "SELECT * FROM receipts WHERE receipt_id = ?", (receipt_id,)
            ).fetchone()
            return Receipt.from_row(row) if row is not None else None

        return self._db.run(read)

    def undispatched(self, since: float) -> Deferred[list[Receipt]]:
        """
        Accepted receipts received after ``since`` that matched agents but
        have no row in the trigger history: the service stopped between
        storing them and dispatching them.
        """

        def read(conn: sqlite3.Connection) -> list[Receipt]:
            rows = conn.execute(
                "SELECT * FROM receipts r WHERE r.received_at > ?"
                " AND r.verdict IN ('verified', 'unsigned', 'replay')"
                " AND r.matched != '[]' AND r.dead_letter_reason IS NULL"
                " AND NOT EXISTS (SELECT 1 FROM triggers t"
                " WHERE t.receipt_id = r.receipt_id)"
                " ORDER BY r.received_at",
                (since,),
            ).fetchall()
            return [Receipt.from_row(row) for row in rows]

        return self._db.run(read)

    def replays_of(self, receipt_id: str) -> Deferred[list[str]]:
        """
        The ids of the receipts that replayed ``receipt_id``, oldest first.
        """

        def read(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT receipt_id FROM receipts WHERE replay_of = ?"
                " ORDER BY received_at",
                (receipt_id,),
            ).fetchall()
            return [row["receipt_id"] for row in rows]

        return self._db.run(read)

    def prune(self, before_ts: float, batch_size: int = 500) -> Deferred[int]:
        """
        Delete receipts received before ``before_ts``, in batches so the
        writer is never held for long.

        :returns: a Deferred that fires with how many were deleted.
        """
        return _prune_batches(self._db, before_ts, batch_size, 0)


def _prune_batches(
    db: Database, before_ts: float, batch_size: int, deleted: int
) -> Deferred[int]:
    def one_batch(conn: sqlite3.Connection) -> int:
        cursor = conn.execute(
            "DELETE FROM receipts WHERE receipt_id IN (SELECT receipt_id FROM"
            " receipts WHERE received_at < ? LIMIT ?)",
            (before_ts, batch_size),
        )
        return cursor.rowcount

    def more(count: int) -> Deferred[int] | int:
        if count < batch_size:
            return deleted + count
        return _prune_batches(db, before_ts, batch_size, deleted + count)

    return db.run(one_batch).addCallback(more)


__all__ = [
    "ACCEPTED",
    "DuplicateDelivery",
    "NewReceipt",
    "Receipt",
    "ReceiptStore",
]
