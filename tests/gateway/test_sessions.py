"""
Login sessions of a real gateway over time: idle timeout, absolute
lifetime, key rotation and restarts.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest_twisted

from action_llama.gateway.sessions import IDLE_TIMEOUT, LIFETIME, digest
from tests.gateway.conftest import Launcher
from tests.gateway.support import Gateway

HOUR = 3600.0


async def _status(gateway: Gateway, session: str) -> int:
    """
    The status ``GET /control/status`` answers with for ``session``.
    """
    return (await gateway.request("GET", "/control/status", cookie=session)).code


def _stored(root: Path) -> list[tuple[str, float, float]]:
    """
    The sessions in the project database, read from the file.
    """
    with sqlite3.connect(root / ".al" / "action-llama.db") as conn:
        return conn.execute(
            "SELECT id_hash, created_at, last_seen_at FROM sessions"
        ).fetchall()


@pytest_twisted.ensureDeferred
async def test_idle_session_expires(gateway: Gateway) -> None:
    """
    A session unused for the idle timeout ends; each use pushes that end
    back.
    """
    session = await gateway.log_in()
    gateway.clock.advance(IDLE_TIMEOUT - 1)
    assert await _status(gateway, session) == 200
    gateway.clock.advance(IDLE_TIMEOUT - 1)
    assert await _status(gateway, session) == 200
    gateway.clock.advance(IDLE_TIMEOUT)
    assert await _status(gateway, session) == 401
    assert await _status(gateway, session) == 401


@pytest_twisted.ensureDeferred
async def test_busy_session_ends_at_its_lifetime(gateway: Gateway) -> None:
    """
    A session used often still ends once its absolute lifetime has passed.
    """
    session = await gateway.log_in()
    step = IDLE_TIMEOUT / 2
    while gateway.clock.seconds() + step < LIFETIME:
        gateway.clock.advance(step)
        assert await _status(gateway, session) == 200
    gateway.clock.advance(LIFETIME - gateway.clock.seconds())
    assert await _status(gateway, session) == 401


@pytest_twisted.ensureDeferred
async def test_sessions_are_stored_as_hashes(gateway: Gateway) -> None:
    """
    The database holds the hash of a session id, never the id, and learns of
    its use at most once a minute.
    """
    session = await gateway.log_in()
    gateway.clock.advance(30)
    await _status(gateway, session)
    [stored] = _stored(gateway.root)
    assert stored == (digest(session), 0.0, 0.0)

    gateway.clock.advance(30)
    await _status(gateway, session)
    await gateway.log_in()
    assert (digest(session), 0.0, 60.0) in _stored(gateway.root)
    assert all(session not in row[0] for row in _stored(gateway.root))


@pytest_twisted.ensureDeferred
async def test_sessions_survive_a_restart(launch: Launcher) -> None:
    """
    A session made before the service stopped works after it starts again,
    and keeps the idle time it had.
    """
    first = await launch()
    session = await first.log_in()
    first.clock.advance(IDLE_TIMEOUT - HOUR)
    assert await _status(first, session) == 200
    await first.stop()

    second = await launch()
    assert await _status(second, session) == 200
    second.clock.advance(IDLE_TIMEOUT - HOUR)
    assert await _status(second, session) == 200
    await second.stop()

    third = await launch()
    third.clock.advance(IDLE_TIMEOUT)
    assert await _status(third, session) == 401


@pytest_twisted.ensureDeferred
async def test_logged_out_session_stays_ended_after_a_restart(
    launch: Launcher,
) -> None:
    """
    A session ended by logging out does not come back when the service
    starts again.
    """
    first = await launch()
    session = await first.log_in()
    await first.request("POST", "/api/auth/logout", cookie=session)
    await first.stop()
    second = await launch()
    assert await _status(second, session) == 401


@pytest_twisted.ensureDeferred
async def test_key_rotation_ends_sessions_and_the_old_key(gateway: Gateway) -> None:
    """
    Regenerating the key takes effect without a restart: the old key and
    every session are refused, the new key works and can log in again.
    """
    old_key = gateway.key
    sessions = [await gateway.log_in(), await gateway.log_in()]
    link = await gateway.issue_link()

    new_key = gateway.rotate_key()

    for session in sessions:
        assert await _status(gateway, session) == 401
    old = await gateway.request("GET", "/control/status", key=old_key)
    new = await gateway.request("GET", "/control/status", key=new_key)
    assert (old.code, new.code) == (401, 200)
    assert (await gateway.request("GET", link)).code == 401
    fresh = await gateway.log_in()
    assert await _status(gateway, fresh) == 200


@pytest_twisted.ensureDeferred
async def test_key_rotated_while_stopped_ends_sessions(launch: Launcher) -> None:
    """
    Sessions made under a key that was replaced while the service was down
    are refused after it starts, and deleted from the database.
    """
    first = await launch()
    session = await first.log_in()
    await first.stop()
    first.rotate_key()

    second = await launch()
    assert await _status(second, session) == 401
    await second.log_in()
    assert digest(session) not in [row[0] for row in _stored(second.root)]
