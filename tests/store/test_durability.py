"""
A Deferred of the store fires only once its write is on disk: a process killed
right after one fired loses nothing it reported.
"""

from __future__ import annotations

import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from action_llama.store import Database, queries
from tests.store.support import reactor

_WRITER = """
import sys
from twisted.internet import reactor
from action_llama.store import Database, Store

db = Database(sys.argv[1], reactor)
store = Store(db)

def reported(trigger_id):
    sys.stdout.write(f"{trigger_id}\\n")
    sys.stdout.flush()

def write_more(_=None):
    batch = [
        store.record_trigger(1.0, "cron", None, "alpha", "completed").addCallback(
            reported
        )
        for _ in range(20)
    ]
    batch[-1].addCallback(write_more)

def failed(failure):
    sys.stdout.write(f"failed: {failure.getErrorMessage()}\\n")
    sys.stdout.flush()
    reactor.stop()

reactor.callWhenRunning(lambda: db.start().addCallback(write_more).addErrback(failed))
reactor.run()
"""


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    """
    Wait up to ``timeout`` seconds for the first line ``process`` writes.
    """
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if selector.select(deadline - time.monotonic()):
                return process.stdout.readline()
    raise AssertionError("the writer reported nothing in time")


def test_reported_writes_survive_sigkill(db_path: Path) -> None:
    """
    A child process killed with SIGKILL right after it printed that a write's
    Deferred fired has every write it reported on disk.
    """
    process = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db_path)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first = _first_line(process, timeout=30)
    finally:
        process.send_signal(signal.SIGKILL)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    reported = {int(line) for line in (first + rest).split()}
    assert reported, first

    def stored_ids(conn: sqlite3.Connection) -> set[int]:
        page, _ = queries.list_triggers(conn, 1, 100_000, False)
        return {t.id for t in page}

    assert reported <= Database(db_path, reactor).run_sync(stored_ids)
