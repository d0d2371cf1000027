"""
Tests for the writer thread: group commit, failure isolation, closing, and
reading without a reactor.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred, DeferredList, gatherResults

from action_llama.store import (
    Database,
    DatabaseUnavailable,
    NewRun,
    Store,
    TriggerRecord,
    queries,
)
from tests.store.support import reactor


def _hold_writer(db: Database) -> threading.Event:
    """
    Submit an operation that keeps the writer thread busy until the returned
    event is set, so that what is submitted meanwhile waits in one batch.

    The holding operation may share that batch, and its fate with it, so its
    own result is ignored.
    """
    release = threading.Event()
    db.run(lambda conn: release.wait(timeout=30)).addErrback(lambda _: None)
    return release


@pytest_twisted.ensureDeferred
async def test_concurrent_operations_share_commits(
    database: Database, store: Store
) -> None:
    """
    500 trigger records submitted together all succeed, with distinct ids, in
    far fewer commits than 500.
    """
    before = database.commits
    release = _hold_writer(database)
    pending = [
        store.record_trigger(float(i), "cron", None, "alpha", "completed")
        for i in range(500)
    ]
    release.set()
    ids = await gatherResults(pending)
    assert len(set(ids)) == 500
    assert database.commits - before <= 2
    assert (await store.list_triggers(1, 1))[1] == 500


@pytest_twisted.ensureDeferred
async def test_natural_load_shares_commits(database: Database, store: Store) -> None:
    """
    Without holding the writer back, 500 records submitted in one go still
    take fewer commits than records.
    """
    before = database.commits
    await gatherResults(
        [
            store.record_trigger(float(i), "cron", None, "alpha", "completed")
            for i in range(500)
        ]
    )
    assert database.commits - before < 500


@pytest_twisted.ensureDeferred
async def test_a_failing_operation_fails_alone(
    database: Database, store: Store
) -> None:
    """
    In one batch, an operation that breaks a constraint fails with that error
    and leaves no trace, while its batch-mates succeed and are committed.
    """
    run = NewRun("alpha-1", "alpha", "manual", 5.0)
    await store.start_run(run)

    def half_then_duplicate(conn: sqlite3.Connection) -> None:
        queries.record_trigger(conn, 6.0, "manual", None, "beta", "completed")
        queries.start_run(conn, run, None, None)

    before = database.commits
    release = _hold_writer(database)
    batch: list[Deferred[Any]] = [
        store.record_trigger(7.0, "manual", None, "gamma", "completed"),
        database.run(half_then_duplicate),
        store.record_trigger(8.0, "manual", None, "delta", "completed"),
    ]
    release.set()
    results = await DeferredList(batch, consumeErrors=True)

    assert [ok for ok, _ in results] == [True, False, True]
    assert results[1][1].check(sqlite3.IntegrityError)
    assert database.commits - before <= 2
    page, _ = await store.list_triggers(1, 10)
    assert [t.agent for t in page] == ["delta", "gamma", "alpha"]


@pytest_twisted.ensureDeferred
async def test_close_finishes_submitted_work(db_path: Path) -> None:
    """
    Operations submitted before ``close`` all complete before it fires, and
    operations submitted after it fail with ``DatabaseUnavailable``.
    """
    db = Database(db_path, reactor)
    await db.start()
    store = Store(db)
    order: list[str] = []
    pending = [
        store.record_trigger(float(i), "cron", None, "alpha", "completed")
        for i in range(50)
    ]
    for d in pending:
        d.addCallback(lambda _: order.append("op"))
    closed = db.close()
    closed.addCallback(lambda _: order.append("closed"))
    late = store.record_trigger(99.0, "cron", None, "alpha", "completed")
    await closed
    assert order == ["op"] * 50 + ["closed"]
    with pytest.raises(DatabaseUnavailable):
        await late
    total = db.run_sync(lambda conn: queries.list_triggers(conn, 1, 1, False)[1])
    assert total == 50


@pytest_twisted.ensureDeferred
async def test_operations_wait_for_start(db_path: Path) -> None:
    """
    Operations submitted before ``start`` has finished are refused rather than
    left waiting.
    """
    db = Database(db_path, reactor)
    with pytest.raises(DatabaseUnavailable, match="has not been started"):
        await db.run(lambda conn: None)
    started = db.start()
    with pytest.raises(DatabaseUnavailable, match="still starting"):
        await db.run(lambda conn: None)
    await started
    await db.close()


def test_run_sync_reads_without_a_reactor(db_path: Path) -> None:
    """
    ``run_sync`` migrates a new file and runs operations on a connection of its
    own, committing their writes.
    """
    db = Database(db_path, reactor)
    trigger_id = db.run_sync(
        lambda conn: queries.record_trigger(
            conn, 1.5, "webhook", "github", None, "dead-letter"
        )
    )
    page, total = db.run_sync(lambda conn: queries.list_triggers(conn, 1, 5, True))
    assert total == 1
    assert page == [
        TriggerRecord(
            id=trigger_id,
            ts=1.5,
            trigger_type="webhook",
            trigger_source="github",
            agent=None,
            instance_id=None,
            result="dead-letter",
            receipt_id=None,
            dead_letter_reason=None,
            work_id=None,
        )
    ]


def test_run_sync_rolls_back_a_failing_operation(db_path: Path) -> None:
    """
    An operation that raises under ``run_sync`` leaves nothing behind.
    """
    db = Database(db_path, reactor)

    def write_then_fail(conn: sqlite3.Connection) -> None:
        queries.record_trigger(conn, 1.0, "cron", None, "alpha", "skipped")
        raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError):
        db.run_sync(write_then_fail)
    assert db.run_sync(lambda conn: queries.list_triggers(conn, 1, 1, False)) == (
        [],
        0,
    )


@pytest_twisted.ensureDeferred
async def test_close_while_starting(db_path: Path) -> None:
    """
    Closing a database that is still starting lets the start finish, then
    closes it; every caller of ``close`` is told, and later calls still work.
    """
    db = Database(db_path, reactor)
    started = db.start()
    first, second = db.close(), db.close()
    await started
    await gatherResults([first, second])
    await db.close()
    with pytest.raises(DatabaseUnavailable, match="is closed"):
        await db.run(lambda conn: None)


@pytest_twisted.ensureDeferred
async def test_a_lost_transaction_fails_what_it_held(
    database: Database, store: Store
) -> None:
    """
    When the transaction ends under an operation (as SQLite does on a full
    disk), the operations already in it fail too, since their writes are gone,
    and the ones after it run in a new transaction.
    """

    def lose_the_transaction(conn: sqlite3.Connection) -> None:
        conn.execute("ROLLBACK")

    release = _hold_writer(database)
    batch: list[Deferred[Any]] = [
        store.record_trigger(1.0, "manual", None, "gamma", "completed"),
        database.run(lose_the_transaction),
        store.record_trigger(2.0, "manual", None, "delta", "completed"),
    ]
    release.set()
    results = await DeferredList(batch, consumeErrors=True)

    assert [ok for ok, _ in results] == [False, False, True]
    assert results[0][1] is results[1][1]
    assert results[0][1].check(sqlite3.OperationalError)
    page, _ = await store.list_triggers(1, 10)
    assert [t.agent for t in page] == ["delta"]
