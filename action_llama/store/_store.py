"""
The store's domain API: runs, trigger history, the work queue, calls, and the
gateway's login sessions and tokens.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from twisted.internet.defer import Deferred

from . import queries
from ._db import Database, Operation
from ._records import (
    AgentSummary,
    CallRecord,
    CallState,
    EnqueueResult,
    NewRun,
    NewWork,
    RunOutcome,
    RunRecord,
    SessionRecord,
    TriggerRecord,
    TriggerResult,
    TriggerType,
    WorkItem,
    new_id,
)


class Store:
    """
    The service's records, kept in one ``Database``.

    Every method submits one operation (``prune``: a few) and returns its
    Deferred, which fires once the change is committed. Unless a method says
    otherwise, the Deferred fails only with ``sqlite3.Error`` or
    ``DatabaseUnavailable`` (see ``Database.run``), and a failed operation
    changes nothing.
    """

    def __init__(self, db: Database) -> None:
        """
        :param db: a started database.
        """
        self._db = db

    def record_trigger(
        self,
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
    ) -> Deferred[int]:
        """
        Add an entry to the trigger history.

        :param ts: when it fired, in POSIX seconds.
        :param agent: ``None`` for a receipt that matched no agent.
        :returns: a Deferred that fires with the entry's id.
        """
        return self._db.run(
            lambda conn: queries.record_trigger(
                conn,
                ts,
                trigger_type,
                source,
                agent,
                result,
                instance_id=instance_id,
                receipt_id=receipt_id,
                dead_letter_reason=dead_letter_reason,
                work_id=work_id,
            )
        )

    def start_run(
        self,
        run: NewRun,
        *,
        trigger_id: int | None = None,
        work_id: str | None = None,
        before: Operation[object] | None = None,
    ) -> Deferred[None]:
        """
        Record ``run`` as started, in one transaction: insert it as
        ``running``; mark its trigger row ``running`` (inserting one if
        ``trigger_id`` is not given); and delete its work item, so a leased item
        leaves the queue exactly when its run is recorded.

        :param trigger_id: the trigger row of the work, from ``enqueue``.
        :param work_id: the leased work item the run comes from.
        :param before: another write to make first in the same transaction
            (the webhook receipt behind the run); if it raises, nothing is
            written and the Deferred fails with its exception.
        :returns: a Deferred that fires with ``None``. It fails with
            ``NoSuchRecord`` if the trigger row or the work item is missing, and
            with ``sqlite3.IntegrityError`` if the instance id is taken.
        """

        def write(conn: sqlite3.Connection) -> None:
            if before is not None:
                before(conn)
            queries.start_run(conn, run, trigger_id, work_id)

        return self._db.run(write)

    def finish_run(
        self,
        instance_id: str,
        ended_at: float,
        outcome: RunOutcome,
        exit_code: int | None,
        *,
        error: str | None = None,
    ) -> Deferred[None]:
        """
        Record how a run ended: its end, duration, outcome and exit code, and
        the outcome as its trigger row's result.

        :returns: a Deferred that fires with ``None``. It fails with
            ``NoSuchRecord`` if there is no such run.
        """
        return self._db.run(
            lambda conn: queries.finish_run(
                conn, instance_id, ended_at, outcome, exit_code, error
            )
        )

    def set_status_text(self, instance_id: str, text: str) -> Deferred[None]:
        """
        Set a run's status text (``al-status``).

        :returns: a Deferred that fires with ``None``. It fails with
            ``NoSuchRecord`` if there is no such run.
        """
        return self._db.run(
            lambda conn: queries.set_status_text(conn, instance_id, text)
        )

    def set_return_value(self, instance_id: str, value: str) -> Deferred[None]:
        """
        Set a run's return value (``al-return``).

        :returns: a Deferred that fires with ``None``. It fails with
            ``NoSuchRecord`` if there is no such run.
        """
        return self._db.run(
            lambda conn: queries.set_return_value(conn, instance_id, value)
        )

    def add_tokens(self, instance_id: str, input: int, output: int) -> Deferred[None]:
        """
        Add to a run's LLM token usage.

        :returns: a Deferred that fires with ``None``. It fails with
            ``NoSuchRecord`` if there is no such run.
        """
        return self._db.run(
            lambda conn: queries.add_tokens(conn, instance_id, input, output)
        )

    def mark_lost_runs(self, now: float) -> Deferred[list[RunRecord]]:
        """
        Record every run still ``running`` as ``lost``, with the error "the
        service stopped while it ran", ended at ``now`` and with no duration
        (its real end is unknown); set their trigger rows to ``lost`` and the
        calls they served to ``error``. The service calls this as it starts.

        :returns: a Deferred that fires with those runs as now stored, oldest
            first.
        """
        return self._db.run(lambda conn: queries.mark_lost_runs(conn, now))

    def enqueue(
        self, item: NewWork, bound: int, before: Operation[object] | None = None
    ) -> Deferred[EnqueueResult]:
        """
        Add ``item`` to the end of its agent's queue, in one transaction with a
        ``queued`` trigger row. If the agent's queue (quarantined items aside,
        leased ones included) then holds more than ``bound`` items, delete the
        oldest unleased ones beyond it and set their trigger rows to
        ``dropped``.

        :param before: another write to make first in the same transaction
            (the webhook receipt behind the work); if it raises, nothing is
            written and the Deferred fails with its exception.
        :returns: a Deferred that fires with the work id, the trigger row's id
            and the dropped items. It fails with ``sqlite3.IntegrityError`` if
            the work id is taken.
        """

        def write(conn: sqlite3.Connection) -> EnqueueResult:
            if before is not None:
                before(conn)
            return queries.enqueue(conn, item, bound)

        return self._db.run(write)

    def lease(self, agent: str, now: float) -> Deferred[WorkItem | None]:
        """
        Lease the oldest waiting item of ``agent``: mark it leased at ``now``
        and count an attempt. It stays in the queue until ``start_run`` is
        given its work id, or ``unlease`` puts it back.

        :returns: a Deferred that fires with the leased item, or ``None`` if
            the agent has nothing waiting.
        """
        return self._db.run(lambda conn: queries.lease(conn, agent, now))

    def unlease(self, work_id: str) -> Deferred[None]:
        """
        Put a leased item back where it was, for example when admission
        refused it after all; the attempt its lease counted is taken back.

        :returns: a Deferred that fires with ``None``. It fails with
            ``NoSuchRecord`` if no such item is leased.
        """
        return self._db.run(lambda conn: queries.unlease(conn, work_id))

    def recover_leases(
        self, now: float, max_attempts: int = 3
    ) -> Deferred[list[WorkItem]]:
        """
        End the leases of a service that died, as this one starts. Each leased
        item goes back to its place in the queue, unless its leases have
        already reached ``max_attempts``: it is then quarantined at ``now``,
        and its trigger row becomes a ``dead-letter`` with the reason
        ``crashed_repeatedly``.

        :returns: a Deferred that fires with the quarantined items.
        """
        return self._db.run(
            lambda conn: queries.recover_leases(conn, now, max_attempts)
        )

    def queue_depths(self) -> Deferred[dict[str, int]]:
        """
        Count each agent's queue, quarantined items aside.

        :returns: a Deferred that fires with the depth by agent name; agents
            with an empty queue are left out.
        """
        return self._db.run(queries.queue_depths)

    def queued(self, agent: str) -> Deferred[list[WorkItem]]:
        """
        List ``agent``'s queue, quarantined items aside.

        :returns: a Deferred that fires with the items, oldest first.
        """
        return self._db.run(lambda conn: queries.queued(conn, agent))

    def create_call(
        self,
        caller_instance: str,
        caller_agent: str,
        target_agent: str,
        context: dict[str, Any],
        depth: int,
        now: float,
    ) -> Deferred[CallRecord]:
        """
        Record a new ``pending`` call from one run to another agent.

        :returns: a Deferred that fires with the call, under a fresh call id.
        """
        call_id = new_id()
        return self._db.run(
            lambda conn: queries.create_call(
                conn,
                call_id,
                caller_instance,
                caller_agent,
                target_agent,
                context,
                depth,
                now,
            )
        )

    def update_call(
        self,
        call_id: str,
        state: CallState,
        now: float,
        *,
        instance_id: str | None = None,
        return_value: str | None = None,
    ) -> Deferred[None]:
        """
        Move a call to ``state`` at ``now``, and set the run serving it and its
        return value when given (values not given are kept).

        :returns: a Deferred that fires with ``None``. It fails with
            ``NoSuchRecord`` if there is no such call.
        """
        return self._db.run(
            lambda conn: queries.update_call(
                conn, call_id, state, now, instance_id, return_value
            )
        )

    def get_call(self, call_id: str) -> Deferred[CallRecord | None]:
        """
        Look up a call.

        :returns: a Deferred that fires with the call, or ``None``.
        """
        return self._db.run(lambda conn: queries.get_call(conn, call_id))

    def create_session(
        self,
        id_hash: str,
        key_id: str,
        now: float,
        idle_before: float,
        created_before: float,
    ) -> Deferred[None]:
        """
        Store a new login session, last seen at ``now``; in the same
        transaction, delete the sessions that have expired (see
        ``live_sessions``).

        :param id_hash: the hash of the session id (never the id itself).
        :param key_id: the id of the API key the session was made under.
        :returns: a Deferred that fires with ``None``. It fails with
            ``sqlite3.IntegrityError`` if the hash is taken.
        """
        return self._db.run(
            lambda conn: queries.create_session(
                conn, id_hash, key_id, now, idle_before, created_before
            )
        )

    def live_sessions(
        self, key_id: str | None, idle_before: float, created_before: float
    ) -> Deferred[list[SessionRecord]]:
        """
        Delete the sessions that have expired, that is those last seen before
        ``idle_before`` or created before ``created_before``, and those made
        under an API key other than ``key_id`` (all of them if it is
        ``None``); give the rest.

        :returns: a Deferred that fires with the sessions left, in no order.
        """
        return self._db.run(
            lambda conn: queries.live_sessions(
                conn, key_id, idle_before, created_before
            )
        )

    def touch_session(self, id_hash: str, now: float) -> Deferred[None]:
        """
        Record that a session was used at ``now``; a later use already
        recorded is kept, and an unknown session is ignored.

        :returns: a Deferred that fires with ``None``.
        """
        return self._db.run(lambda conn: queries.touch_session(conn, id_hash, now))

    def end_session(self, id_hash: str) -> Deferred[bool]:
        """
        Delete one session.

        :returns: a Deferred that fires with whether it was stored.
        """
        return self._db.run(lambda conn: queries.end_session(conn, id_hash))

    def end_all_sessions(self) -> Deferred[int]:
        """
        Delete every session and every unused login token (the API key
        changed).

        :returns: a Deferred that fires with the number of sessions deleted.
        """
        return self._db.run(queries.end_all_sessions)

    def create_login_token(
        self, token_hash: str, key_id: str, now: float, expires_at: float
    ) -> Deferred[None]:
        """
        Store a new one-time login token; in the same transaction, delete the
        tokens that have expired by ``now``.

        :param token_hash: the hash of the token (never the token itself).
        :param key_id: the id of the API key it was issued under.
        :returns: a Deferred that fires with ``None``. It fails with
            ``sqlite3.IntegrityError`` if the hash is taken.
        """
        return self._db.run(
            lambda conn: queries.create_login_token(
                conn, token_hash, key_id, now, expires_at
            )
        )

    def consume_login_token(
        self, token_hash: str, key_id: str | None, now: float
    ) -> Deferred[bool]:
        """
        Use up a login token: delete it, whatever its state, so it never
        works twice.

        :returns: a Deferred that fires with whether it was stored, had not
            expired by ``now``, and was issued under ``key_id``.
        """
        return self._db.run(
            lambda conn: queries.consume_login_token(conn, token_hash, key_id, now)
        )

    def list_triggers(
        self, page: int, limit: int, dead_letter_only: bool = False
    ) -> Deferred[tuple[list[TriggerRecord], int]]:
        """
        Give one page of the trigger history, newest first (by time, then by
        id).

        :param page: counted from 1.
        :param dead_letter_only: list only the ``dead-letter`` entries.
        :returns: a Deferred that fires with the page's entries (empty past the
            end) and the number of entries in the whole listing. It fails with
            ``ValueError`` if ``page`` or ``limit`` is below 1.
        """
        return self._db.run(
            lambda conn: queries.list_triggers(conn, page, limit, dead_letter_only)
        )

    def list_runs(
        self, agent: str | None = None, since: float | None = None, limit: int = 50
    ) -> Deferred[list[RunRecord]]:
        """
        List runs, newest first.

        :param agent: only this agent's runs.
        :param since: only runs started at or after this time.
        :returns: a Deferred that fires with up to ``limit`` runs.
        """
        return self._db.run(lambda conn: queries.list_runs(conn, agent, since, limit))

    def get_run(self, instance_id: str) -> Deferred[RunRecord | None]:
        """
        Look up a run.

        :returns: a Deferred that fires with the run, or ``None``.
        """
        return self._db.run(lambda conn: queries.get_run(conn, instance_id))

    def run_summary(self, since: float) -> Deferred[dict[str, AgentSummary]]:
        """
        Summarise, per agent, the runs started at or after ``since``: counts by
        outcome, mean duration and token totals (``al stats``).

        :returns: a Deferred that fires with the summaries by agent name, in
            name order; agents with no runs are left out.
        """
        return self._db.run(lambda conn: queries.run_summary(conn, since))

    def prune(self, before_ts: float, *, batch_size: int = 500) -> Deferred[int]:
        """
        Delete what retention no longer keeps: finished runs started before
        ``before_ts``, trigger entries before it that are no longer in flight
        (neither ``running`` nor ``queued``), finished calls last updated before
        it, and work quarantined before it.

        Each batch of at most ``batch_size`` rows is its own operation, so the
        write lock is never held for long and other work goes on in between.

        :returns: a Deferred that fires with the number of rows deleted, once
            none is left; if a batch fails, it fails with that batch's error
            (earlier batches stay deleted).
        """
        return Deferred.fromCoroutine(self._prune(before_ts, batch_size))

    async def _prune(self, before_ts: float, batch_size: int) -> int:
        """
        Delete batches until one comes back short.
        """
        total = 0
        while True:
            deleted = await self._db.run(
                lambda conn: queries.prune_batch(conn, before_ts, batch_size)
            )
            total += deleted
            if deleted < batch_size:
                return total
