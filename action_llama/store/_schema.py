"""
The database schema, as a list of migrations.

``MIGRATIONS[n - 1]`` takes a database from schema version ``n - 1`` to ``n``;
the version is ``PRAGMA user_version`` (0 in a new file). A migration is
applied in one transaction together with its version bump, so a failed one
leaves the file at the previous version. Append new migrations; never edit one
that has shipped.

The dead-letter index holds ``result`` although its condition fixes it: that
makes it cover the page-finding walk of ``list_triggers``.

Counting the rows of ``triggers`` (the history totals) would cost a scan of the
whole table per page, so migration 1 keeps the two totals in ``counters``,
maintained by SQL triggers in the same transaction as every change.

Migration 2 adds the gateway's login sessions and one-time login tokens. Both
are kept only as SHA-256 hashes of the values handed to browsers, each with
the id of the API key it was made under (``key_id``), so that sessions made
under a key rotated while the service was down can be told apart and ended.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from ._errors import SchemaTooNew
from ._receipt_schema import (
    QUEUE_DEPTHS_MIGRATION,
    RECEIPTS_MIGRATION,
    TRIGGERS_BY_RECEIPT_MIGRATION,
)

_MIGRATION_1 = """
CREATE TABLE triggers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    trigger_type TEXT NOT NULL,
    trigger_source TEXT,
    agent TEXT,
    instance_id TEXT,
    result TEXT NOT NULL,
    receipt_id TEXT,
    dead_letter_reason TEXT,
    work_id TEXT
);
CREATE INDEX triggers_newest ON triggers (ts DESC, id DESC);
CREATE INDEX triggers_dead_letter ON triggers (ts DESC, id DESC, result)
    WHERE result = 'dead-letter';

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('triggers', 0), ('dead_letters', 0);

CREATE TRIGGER triggers_counted_in AFTER INSERT ON triggers BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'triggers';
    UPDATE counters SET value = value + 1
        WHERE name = 'dead_letters' AND NEW.result = 'dead-letter';
END;
CREATE TRIGGER triggers_counted_out AFTER DELETE ON triggers BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'triggers';
    UPDATE counters SET value = value - 1
        WHERE name = 'dead_letters' AND OLD.result = 'dead-letter';
END;
CREATE TRIGGER triggers_counted_result AFTER UPDATE OF result ON triggers
WHEN (OLD.result = 'dead-letter') <> (NEW.result = 'dead-letter') BEGIN
    UPDATE counters
        SET value = value + (CASE NEW.result WHEN 'dead-letter' THEN 1 ELSE -1 END)
        WHERE name = 'dead_letters';
END;

CREATE TABLE runs (
    instance_id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    trigger_type TEXT NOT NULL,
    trigger_source TEXT,
    work_id TEXT,
    trigger_id INTEGER REFERENCES triggers (id) ON DELETE SET NULL,
    call_id TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    outcome TEXT NOT NULL DEFAULT 'running',
    exit_code INTEGER,
    duration REAL,
    status_text TEXT,
    return_value TEXT,
    error TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    context TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_agent_started ON runs (agent, started_at);
CREATE INDEX runs_started ON runs (started_at);
CREATE INDEX runs_running ON runs (outcome) WHERE outcome = 'running';
CREATE INDEX runs_trigger ON runs (trigger_id);

CREATE TABLE work_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    work_id TEXT NOT NULL UNIQUE,
    agent TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    trigger_type TEXT NOT NULL,
    trigger_source TEXT,
    context TEXT NOT NULL DEFAULT '{}',
    call_id TEXT,
    depth INTEGER NOT NULL DEFAULT 0,
    trigger_id INTEGER REFERENCES triggers (id) ON DELETE SET NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    leased_at REAL,
    quarantined_at REAL
);
CREATE INDEX work_queue_agent ON work_queue (agent, quarantined_at, seq);
CREATE INDEX work_queue_trigger ON work_queue (trigger_id);

CREATE TABLE calls (
    call_id TEXT PRIMARY KEY,
    caller_instance TEXT NOT NULL,
    caller_agent TEXT NOT NULL,
    target_agent TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '{}',
    depth INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    instance_id TEXT,
    return_value TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX calls_updated ON calls (updated_at);
"""

_MIGRATION_2 = """
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen_at REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE login_tokens (
    token_hash TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
"""

MIGRATIONS: list[str] = [
    _MIGRATION_1,
    _MIGRATION_2,
    RECEIPTS_MIGRATION,
    TRIGGERS_BY_RECEIPT_MIGRATION,
    QUEUE_DEPTHS_MIGRATION,
]
"""
Every migration, oldest first; the schema version is the length of this list.
"""


def statements(script: str) -> Iterator[str]:
    """
    Split an SQL script into its statements, keeping ``CREATE TRIGGER`` bodies
    whole.

    ``sqlite3.Connection.executescript`` would commit the open transaction
    first, so a migration is run statement by statement instead.

    :raises ValueError: if the script ends inside a statement.
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        raise ValueError(f"unterminated SQL statement: {pending.strip()[:60]!r}")


def schema_version(conn: sqlite3.Connection) -> int:
    """
    Read the schema version of the database open on ``conn``.
    """
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(conn: sqlite3.Connection, migrations: Sequence[str]) -> list[int]:
    """
    Bring the database open on ``conn`` up to ``len(migrations)``.

    Each pending migration runs in its own ``BEGIN IMMEDIATE`` transaction,
    which re-reads the version first, so two processes opening the same new
    file apply each migration once. ``conn`` must be in autocommit mode
    (``isolation_level=None``) with no transaction open.

    :returns: the versions applied, in order (empty if none was due).
    :raises SchemaTooNew: if the file is at a version this code does not know.
    """
    target = len(migrations)
    current = schema_version(conn)
    if current > target:
        raise SchemaTooNew(
            f"the database is at schema version {current}, but this version of "
            f"action-llama knows only up to {target}; upgrade action-llama"
        )
    applied = []
    for version in range(current + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) < version:
                for statement in statements(migrations[version - 1]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version:d}")
                applied.append(version)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return applied
