"""
A service killed with ``SIGKILL`` in the middle of a run, then started again
on the same project: queued work survives and runs in order, the run that
was in flight is recorded ``lost``, and its lock is free.
"""

from __future__ import annotations

import os
import re
import signal
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThread

from action_llama.credentials import CredentialStore
from action_llama.store import Database, RunRecord, queries
from tests.helpers import WatchedProcess, al_argv, spawn

from .harness import WAIT, within, write_project

LISTENING = r"Gateway listening on (http://127\.0\.0\.1:\d+)"
MIGRATED = r"Migrated .* to schema version \d+"
ISSUE = "github://acme/app/issues/7"


def worker_hook(beacon: Path) -> str:
    """
    The hook of the test's agent: take the lock, tell the beacon which run
    this is (``n`` from the trigger context), its process group and the lock
    answer, and hold on for a minute if it is run 0.
    """
    return (
        f'lock=$(rlock "{ISSUE}"); '
        'n=$(sed -n \'s/.*"n": \\([0-9]*\\).*/\\1/p\' "$AL_TRIGGER_FILE"); '
        'echo "run n=$n pgid=$(cut -d" " -f5 /proc/$$/stat) lock=$lock" '
        f"> {beacon}; "
        '[ "$n" != 0 ] || sleep 60'
    )


async def post(base_url: str, path: str, body: Any = None) -> tuple[int, Any]:
    """
    An authenticated ``POST`` to a service started as a process.
    """
    key = CredentialStore().gateway_key() or ""
    headers: dict[bytes | str, bytes | str] = {"Authorization": f"Bearer {key}"}
    response = await within(
        treq.post(base_url + path, json=body, headers=headers), f"POST {path}"
    )
    return response.code, await response.json()


def history(db_path: Path) -> tuple[list[RunRecord], dict[str | None, str]]:
    """
    Every run in the project database, oldest first, and the result of each
    instance's trigger history entry, read without a reactor.
    """
    db = Database(db_path, IReactorFromThreads(reactor))
    runs = db.run_sync(lambda conn: queries.list_runs(conn, None, None, 100))
    triggers, _ = db.run_sync(lambda conn: queries.list_triggers(conn, 1, 100, False))
    results = {t.instance_id: t.result for t in triggers}
    return sorted(runs, key=lambda r: r.started_at), results


@pytest_twisted.ensureDeferred
async def test_restart_after_kill_keeps_the_queue_and_frees_the_lost_run(
    tmp_path: Path,
) -> None:
    """
    After ``kill -9`` of ``al start`` with one run in flight and three
    queued, a new ``al start`` records the in-flight run as ``lost``, frees
    its lock, and runs the three queued items in order; no run is left
    ``running``.
    """
    beacon = tmp_path / "beacon"
    os.mkfifo(beacon)
    root = write_project(
        tmp_path / "p", {"worker": {"scale": 1, "pre": [worker_hook(beacon)]}}
    )
    # The reader opens the FIFO for reading and writing, so it never sees
    # the end of the stream between two hooks.
    reader = spawn(reactor, ["sh", "-c", 'exec cat 0<> "$0"', str(beacon)])
    processes: list[WatchedProcess] = [reader]
    orphan_group: int | None = None
    try:
        first = spawn(reactor, al_argv("start", "-p", str(root), "--port", "0"))
        processes.append(first)
        base_url = (await first.wait_for(LISTENING, reactor, WAIT)).group(1)
        # XXX the gateway listens before the database is open, and a trigger
        # sent then fails (test_runs_startup.py); the migration line of the
        # fresh database says it is open.
        await first.wait_for(MIGRATED, reactor, WAIT)
        code, started = await post(
            base_url, "/control/trigger/worker", {"context": {"n": 0}}
        )
        in_flight = await reader.wait_for(r"run n=0 pgid=(\d+) lock=(.*)\n", reactor)
        orphan_group = int(in_flight.group(1))
        queued = [
            await post(base_url, "/control/trigger/worker", {"context": {"n": n}})
            for n in (1, 2, 3)
        ]
        first.signal("KILL")
        await within(first.ended, "the killed service to go")

        second = spawn(reactor, al_argv("start", "-p", str(root), "--port", "0"))
        processes.append(second)
        await second.wait_for(LISTENING, reactor, WAIT)
        await reader.wait_for(r"run n=3 .*\n", reactor, WAIT)
        second.signal("TERM")
        exit_code = await within(second.ended, "the second service to stop")
        runs, results = await deferToThread(history, root / ".al" / "action-llama.db")
    finally:
        if orphan_group is not None:
            with suppress(ProcessLookupError):
                os.killpg(orphan_group, signal.SIGKILL)
        for process in processes:
            if not process.ended.called:
                process.signal("KILL")
                await within(process.ended, "a leftover process to go")

    after_restart = re.findall(r"run n=(\d) pgid=\d+ lock=(.*)\n", reader.output)[1:]
    assert code == 200 and started["outcome"] == "started"
    assert '"ok": true' in in_flight.group(2)
    assert [(c, a["outcome"]) for c, a in queued] == [(200, "queued")] * 3
    assert exit_code == 0, second.output
    assert [n for n, _ in after_restart] == ["1", "2", "3"]
    assert all('"ok": true' in lock for _, lock in after_restart), after_restart
    assert "recorded as lost" in second.output
    assert [(r.context["n"], r.outcome) for r in runs] == [
        (0, "lost"),
        (1, "completed"),
        (2, "completed"),
        (3, "completed"),
    ]
    assert runs[0].instance_id == started["instanceId"]
    assert [results[r.instance_id] for r in runs] == [
        "lost",
        "completed",
        "completed",
        "completed",
    ]
    assert not [r for r in runs if r.outcome == "running"]
