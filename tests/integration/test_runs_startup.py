"""
The first moments of a service: work sent as soon as the gateway says it
listens.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest_twisted
from twisted.internet import reactor

from .harness import listening, project_service, write_project

#: How long the test keeps the database from opening, standing in for a
#: slow disk or a long migration.
SLOW_OPEN = 0.5


@pytest_twisted.ensureDeferred
async def test_trigger_sent_as_soon_as_the_gateway_listens_is_accepted(
    tmp_path: Path,
) -> None:
    """
    A manual trigger sent as soon as the gateway listens, while the database
    is still opening, is accepted and its run completes.
    """
    root = write_project(tmp_path / "p", {"quick": {"pre": ["true"]}})
    (root / ".al").mkdir()
    blocker = sqlite3.connect(root / ".al" / "action-llama.db", isolation_level=None)
    blocker.execute("PRAGMA journal_mode = WAL")
    blocker.execute("BEGIN IMMEDIATE")
    unblock = reactor.callLater(SLOW_OPEN, blocker.rollback)
    project = project_service(root)
    try:
        await listening(project)
        code, answer = await project.request("POST", "/control/trigger/quick")
        assert (code, answer.get("outcome")) == (200, "started"), answer
        record = await project.ended(answer["instanceId"])
        assert record.outcome == "completed"
    finally:
        if unblock.active():
            unblock.cancel()
        blocker.close()
        await project.stop()
