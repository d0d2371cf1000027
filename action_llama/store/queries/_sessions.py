"""
Operations on login sessions and one-time login tokens.

Both tables hold hashes only. Every row carries the id of the API key it was
made under; a row made under another key is dead, whoever asks.
"""

from __future__ import annotations

import sqlite3

from .._records import SessionRecord


def create_session(
    conn: sqlite3.Connection,
    id_hash: str,
    key_id: str,
    now: float,
    idle_before: float,
    created_before: float,
) -> None:
    """
    Store a new session, and delete those that have expired by ``now``.
    """
    _delete_expired(conn, key_id, idle_before, created_before)
    conn.execute(
        "INSERT INTO sessions (id_hash, key_id, created_at, last_seen_at)"
        " VALUES (?, ?, ?, ?)",
        (id_hash, key_id, now, now),
    )


def live_sessions(
    conn: sqlite3.Connection,
    key_id: str | None,
    idle_before: float,
    created_before: float,
) -> list[SessionRecord]:
    """
    Delete the sessions that have expired or belong to another key; give the
    rest.
    """
    _delete_expired(conn, key_id, idle_before, created_before)
    return [
        SessionRecord.from_row(row)
        for row in conn.execute(
            "SELECT id_hash, created_at, last_seen_at FROM sessions"
        )
    ]


def _delete_expired(
    conn: sqlite3.Connection,
    key_id: str | None,
    idle_before: float,
    created_before: float,
) -> None:
    """
    Delete the sessions last seen before ``idle_before``, created before
    ``created_before``, or made under a key other than ``key_id``.
    """
    conn.execute(
        "DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?"
        " OR key_id IS NOT ?",
        (idle_before, created_before, key_id),
    )


def touch_session(conn: sqlite3.Connection, id_hash: str, now: float) -> None:
    """
    Move a session's last use forward to ``now`` (never back).
    """
    conn.execute(
        "UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id_hash = ?",
        (now, id_hash),
    )


def end_session(conn: sqlite3.Connection, id_hash: str) -> bool:
    """
    Delete one session; whether it was there.
    """
    cursor = conn.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))
    return cursor.rowcount > 0


def end_all_sessions(conn: sqlite3.Connection) -> int:
    """
    Delete every session and every unused login token; how many sessions
    there were.
    """
    conn.execute("DELETE FROM login_tokens")
    return conn.execute("DELETE FROM sessions").rowcount


def create_login_token(
    conn: sqlite3.Connection,
    token_hash: str,
    key_id: str,
    now: float,
    expires_at: float,
) -> None:
    """
    Store a new login token, and delete those that expired by ``now``.
    """
    conn.execute("DELETE FROM login_tokens WHERE expires_at <= ?", (now,))
    conn.execute(
        "INSERT INTO login_tokens (token_hash, key_id, expires_at) VALUES (?, ?, ?)",
        (token_hash, key_id, expires_at),
    )


def consume_login_token(
    conn: sqlite3.Connection, token_hash: str, key_id: str | None, now: float
) -> bool:
    """
    Delete a login token; whether it was there, unexpired, and made under
    ``key_id``.
    """
    rows = conn.execute(
        "DELETE FROM login_tokens WHERE token_hash = ? RETURNING key_id, expires_at",
        (token_hash,),
    ).fetchall()
    return any(row["key_id"] == key_id and row["expires_at"] > now for row in rows)
