"""
The trigger history through HTTP: ``GET /api/stats/triggers`` at a million
stored entries, as the dashboard and scripts ask for it.

A project's database is filled with a million trigger entries (one in fifty
a dead letter; the filler of ``history_store.py``) before the service
starts; then ``al start`` runs in its own process and this script asks for
each page ``REQUESTS`` times over one keep-alive connection with the API
key, after ``WARMUP`` requests: page 1 and page 1000 of the whole history
(the target is a p50 under 10 ms each), and the first and last pages of the
dead letters.

Run: ``python bench/history.py [--rows N]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.interfaces import IReactorFromThreads

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RunningService
from history_store import fill

from action_llama.credentials import CredentialStore
from action_llama.store import Database

REQUESTS = 50
WARMUP = 5
LIMIT = 50


def write_project(root: Path) -> Path:
    """
    A project of one agent that only runs once a year.
    """
    agent = root / "agents" / "nightly"
    agent.mkdir(parents=True)
    (root / "config.toml").write_text("")
    (agent / "SKILL.md").write_text("---\ndescription: nightly\n---\nRun.\n")
    (agent / "config.toml").write_text(
        'schedule = "0 0 1 1 *"\n\n[hooks]\npre = ["true"]\n'
    )
    return root


def ready(connection: http.client.HTTPConnection, key: str) -> None:
    """
    Wait, up to a minute, until the service has finished starting and
    serves authenticated requests.
    """
    deadline = time.monotonic() + 60
    while True:
        connection.request(
            "GET", "/control/status", headers={"Authorization": f"Bearer {key}"}
        )
        response = connection.getresponse()
        response.read()
        if response.status != 503 or time.monotonic() > deadline:
            assert response.status == 200, f"the service answered {response.status}"
            return
        time.sleep(0.1)


def timed(
    connection: http.client.HTTPConnection, key: str, query: str
) -> tuple[list[float], int]:
    """
    Ask for one page ``WARMUP + REQUESTS`` times.

    :returns: the last ``REQUESTS`` times in milliseconds, and how many
        entries the page held.
    """
    times = []
    entries = 0
    for n in range(WARMUP + REQUESTS):
        started = time.perf_counter()
        connection.request(
            "GET",
            "/api/stats/triggers?" + query,
            headers={"Authorization": f"Bearer {key}"},
        )
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status == 200, body[:200]
        if n >= WARMUP:
            times.append(elapsed)
        entries = len(json.loads(body)["triggers"])
    return times, entries


def main(argv: list[str]) -> None:
    """
    Fill, start, time, and print one line per page.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rows", type=int, default=1_000_000)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="al-bench-history-") as scratch:
        root = write_project(Path(scratch) / "project")
        (root / ".al").mkdir()
        db = Database(root / ".al" / "action-llama.db", IReactorFromThreads(reactor))
        started = time.perf_counter()
        db.run_sync(lambda conn: fill(conn, options.rows))
        print(
            f"stored {options.rows:,} trigger entries in"
            f" {time.perf_counter() - started:.1f} s"
        )
        service = RunningService(root)
        try:
            key = CredentialStore(Path(service.home)).gateway_key() or ""
            host, port = service.url.removeprefix("http://").split(":")
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            ready(connection, key)
            dead_pages = -(-(options.rows // 50) // LIMIT)
            cases = [
                ("all", 1, f"page=1&limit={LIMIT}"),
                ("all", 1000, f"page=1000&limit={LIMIT}"),
                ("dead letters", 1, f"page=1&limit={LIMIT}&deadLetter=true"),
                (
                    "dead letters",
                    dead_pages,
                    f"page={dead_pages}&limit={LIMIT}&deadLetter=true",
                ),
            ]
            for what, page, query in cases:
                times, entries = timed(connection, key, query)
                print(
                    f"{what:>12}  page {page:>5} ({entries} entries):"
                    f" p50 {statistics.median(times):6.2f} ms,"
                    f" max {max(times):6.2f} ms over {REQUESTS} requests"
                )
            connection.close()
        finally:
            service.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
