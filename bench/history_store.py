"""
Time the trigger-history listing over a large history.

Fills a fresh database with a million trigger entries (one in fifty a dead
letter), then times the pages the dashboard asks for: page 1, page 1000 and
the last page, of the whole history and of the dead letters, 50 entries a page.
Each figure is the best of several runs of the store's own query, on one
connection, so it measures the query rather than the thread hop.

Run: ``python bench/history_store.py [--rows N] [--path FILE]``.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from twisted.internet import reactor as global_reactor
from twisted.internet.interfaces import IReactorFromThreads

from action_llama.store import Database, queries

PAGE_SIZE = 50
REPEATS = 20


def fill(conn: sqlite3.Connection, rows: int) -> None:
    """
    Record ``rows`` trigger entries, half a second apart.
    """
    for i in range(rows):
        if i % 50 == 0:
            queries.record_trigger(
                conn,
                1.7e9 + i / 2,
                "webhook",
                "github",
                None,
                "dead-letter",
                receipt_id=f"receipt-{i}",
                dead_letter_reason="no_match",
            )
        else:
            queries.record_trigger(
                conn,
                1.7e9 + i / 2,
                "cron",
                None,
                f"agent-{i % 20}",
                "completed",
                instance_id=f"agent-{i % 20}-{i:08x}",
            )


def best_ms(conn: sqlite3.Connection, page: int, dead_letter_only: bool) -> float:
    """
    Time one page, best of ``REPEATS``, in milliseconds.
    """
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        entries, _ = queries.list_triggers(conn, page, PAGE_SIZE, dead_letter_only)
        best = min(best, time.perf_counter() - started)
        assert entries, f"page {page} is empty"
    return best * 1000


def measure(conn: sqlite3.Connection) -> list[str]:
    """
    Time the pages worth knowing about; give one line per figure.
    """
    lines = []
    for dead_letter_only in (False, True):
        _, total = queries.list_triggers(conn, 1, 1, dead_letter_only)
        last = -(-total // PAGE_SIZE)
        for page in sorted({1, min(1000, last), last // 2, last}):
            ms = best_ms(conn, page, dead_letter_only)
            what = "dead letters" if dead_letter_only else "all"
            lines.append(f"{what:>12}  page {page:>6} of {last:>6}  {ms:7.3f} ms")
    return lines


def main(argv: list[str]) -> None:
    """
    Fill a database and print the timings.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--path", type=Path, help="default: a temporary file")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        path = options.path or Path(scratch) / "bench.db"
        db = Database(path, IReactorFromThreads(global_reactor))
        started = time.perf_counter()
        db.run_sync(lambda conn: fill(conn, options.rows))
        seconds = time.perf_counter() - started
        sys.stdout.write(f"recorded {options.rows} entries in {seconds:.1f} s\n")
        for line in db.run_sync(measure):
            sys.stdout.write(line + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
