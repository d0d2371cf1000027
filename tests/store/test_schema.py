"""
Tests for opening the database file and migrating its schema.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import pytest_twisted
from twisted.logger import capturedLogs

from action_llama.store import (
    MIGRATIONS,
    Database,
    DatabaseUnavailable,
    SchemaTooNew,
    Store,
    migrate,
    schema_version,
)
from tests.store.support import reactor


def _plain_connection(path: Path) -> sqlite3.Connection:
    """
    Open ``path`` the way ``migrate`` expects: autocommit, rows by name.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


@pytest_twisted.ensureDeferred
async def test_fresh_file_is_migrated_to_the_latest_version(db_path: Path) -> None:
    """
    Starting on a new file creates the tables and sets the schema version to
    the number of migrations, with WAL, full sync and foreign keys on.
    """
    db = Database(db_path, reactor)
    with capturedLogs() as events:
        await db.start()

    def inspect(conn: sqlite3.Connection) -> tuple[int, set[str], tuple[str, int, int]]:
        tables = {
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        pragmas = (
            conn.execute("PRAGMA journal_mode").fetchone()[0],
            conn.execute("PRAGMA synchronous").fetchone()[0],
            conn.execute("PRAGMA foreign_keys").fetchone()[0],
        )
        return schema_version(conn), tables, pragmas

    version, tables, pragmas = await db.run(inspect)
    await db.close()
    assert version == len(MIGRATIONS)
    assert {"runs", "triggers", "work_queue", "calls", "counters"} <= tables
    assert pragmas == ("wal", 2, 1)
    migrated = [e["version"] for e in events if "version" in e]
    assert migrated == list(range(1, len(MIGRATIONS) + 1))


@pytest_twisted.ensureDeferred
async def test_reopening_applies_nothing_and_keeps_the_data(db_path: Path) -> None:
    """
    A second start on the same file migrates nothing and finds what the first
    one wrote.
    """
    first = Database(db_path, reactor)
    await first.start()
    trigger_id = await Store(first).record_trigger(
        10.0, "manual", None, "alpha", "completed"
    )
    await first.close()

    second = Database(db_path, reactor)
    with capturedLogs() as events:
        await second.start()
    page, total = await Store(second).list_triggers(1, 10)
    version = await second.run(schema_version)
    await second.close()
    assert [e for e in events if "version" in e] == []
    assert version == len(MIGRATIONS)
    assert ([t.id for t in page], total) == ([trigger_id], 1)


@pytest_twisted.ensureDeferred
async def test_a_newer_file_is_refused(db_path: Path) -> None:
    """
    A file at a schema version this code does not know fails the start with
    ``SchemaTooNew``, and the database stays closed.
    """
    conn = _plain_connection(db_path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    db = Database(db_path, reactor)
    with pytest.raises(SchemaTooNew):
        await db.start()
    await db.close()
    with pytest.raises(DatabaseUnavailable, match="is closed"):
        await db.run(schema_version)


def test_a_failed_migration_leaves_the_previous_version(db_path: Path) -> None:
    """
    A migration that fails part-way is rolled back whole, version included.
    """
    broken = "CREATE TABLE extra (x INTEGER);\nINSERT INTO nowhere VALUES (1);\n"
    conn = _plain_connection(db_path)
    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        migrate(conn, [*MIGRATIONS, broken])
    extra = conn.execute("SELECT name FROM sqlite_master WHERE name = 'extra'")
    assert extra.fetchall() == []
    assert schema_version(conn) == len(MIGRATIONS)
    conn.close()


def test_migrations_apply_in_order_once(db_path: Path) -> None:
    """
    Each pending migration is applied once, in order, and a later call applies
    only the ones added since.
    """
    added = "CREATE TABLE later (x INTEGER);\n"
    conn = _plain_connection(db_path)
    assert migrate(conn, MIGRATIONS) == list(range(1, len(MIGRATIONS) + 1))
    assert migrate(conn, MIGRATIONS) == []
    assert migrate(conn, [*MIGRATIONS, added]) == [len(MIGRATIONS) + 1]
    assert schema_version(conn) == len(MIGRATIONS) + 1
    conn.close()
