"""
Fixtures for the store tests: a started database in a fresh file, and the
store over it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_twisted

from action_llama.store import Database, Store
from tests.store.support import reactor


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """
    Where the test's database file goes.
    """
    return tmp_path / "action-llama.db"


@pytest_twisted.async_yield_fixture
async def database(db_path: Path) -> AsyncIterator[Database]:
    """
    A started database, closed after the test (if the test did not).
    """
    db = Database(db_path, reactor)
    await db.start()
    yield db
    await db.close()


@pytest.fixture
def store(database: Database) -> Store:
    """
    The store over the test's database.
    """
    return Store(database)
