"""
Webhook intake: signed GitHub deliveries per second, and their latency.

The service (``al start``) runs in its own process with a private HOME; the
load comes from a second process (this script with ``client``), an asyncio
HTTP/1.1 client holding ``CONNECTIONS`` keep-alive connections, each sending
its next delivery as soon as the last one is answered, for ``SECONDS``. Every
delivery is a real GitHub ``push`` payload with its own delivery id, signed
as GitHub signs it. Two cases, each on a fresh project and database:

(a) matched and queued: an agent matches every delivery, the scheduler is
    paused through ``/control/pause`` and the agent's ``maxWorkQueueSize``
    raised, so each delivery is a stored receipt plus a queued work item (and
    its trigger row), and nothing spawns;
(b) dead-lettered: no agent matches, so each delivery is a stored receipt and
    its dead-letter trigger row.

Durability: after each case the service is killed with SIGKILL, and the
database must hold a receipt (and, for (a), a queued trigger row) for every
delivery id that got a 2xx.

Run: ``python bench/webhooks.py [--seconds S] [--connections N]``. The
figures depend on the machine's other load (printed first) and on how fast
its disk syncs, since every 2xx waits for a synced commit.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.interfaces import IReactorFromThreads

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RunningService

from action_llama.credentials import CredentialStore
from action_llama.store import Database

SECONDS = 10.0
CONNECTIONS = 50
SECRET = "bench-webhook-secret"
PAYLOAD = REPO / "tests" / "webhooks" / "fixtures" / "github" / "push.json"


# -- the load generator (runs in its own process) --------------------------------


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """
    Read one HTTP/1.1 response (``Content-Length`` or chunked).

    :returns: the status and the body.
    """
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if b":" in line:
            name, value = line.split(b":", 1)
            headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        return status, await reader.readexactly(int(headers[b"content-length"]))
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


async def one_connection(
    host: str,
    port: int,
    path: str,
    name: int,
    deadline: float,
    acked: list[str],
    latencies: list[float],
    failures: list[str],
) -> None:
    """
    Send deliveries one after another on one keep-alive connection until
    ``deadline``.
    """
    body = PAYLOAD.read_bytes()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\nX-GitHub-Event: push\r\n"
        f"X-Hub-Signature-256: {signature}\r\nContent-Length: {len(body)}\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(host, port)
    sent = 0
    while time.perf_counter() < deadline:
        delivery = f"bench-{name}-{sent}"
        sent += 1
        started = time.perf_counter()
        writer.write(head + f"X-GitHub-Delivery: {delivery}\r\n\r\n".encode() + body)
        status, answer = await read_answer(reader)
        latencies.append(time.perf_counter() - started)
        if 200 <= status < 300:
            acked.append(delivery)
        else:
            failures.append(f"{status} {answer[:80]!r}")
    writer.close()


async def load(url: str, path: str, seconds: float, connections: int) -> dict:
    """
    Run the load and give what it saw.
    """
    host, port = url.removeprefix("http://").split(":")
    acked: list[str] = []
    latencies: list[float] = []
    failures: list[str] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            one_connection(
                host, int(port), path, n, deadline, acked, latencies, failures
            )
            for n in range(connections)
        )
    )
    return {
        "elapsed": time.perf_counter() - started,
        "acked": acked,
        "latencies": latencies,
        "failures": failures,
    }


def client(argv: list[str]) -> None:
    """
    ``webhooks.py client URL PATH SECONDS CONNECTIONS OUT``: run the load and
    write what it saw to OUT as JSON.
    """
    url, path, seconds, connections, out = argv
    result = asyncio.run(load(url, path, float(seconds), int(connections)))
    Path(out).write_text(json.dumps(result))


# -- the benchmark ---------------------------------------------------------------


def write_project(root: Path, matched: bool) -> Path:
    """
    A signed GitHub source, and an agent that takes every push (``matched``)
    or only releases, which no delivery is.
    """
    (root / "agents" / "intake").mkdir(parents=True)
    (root / "config.toml").write_text(
        '[webhooks.github]\ntype = "github"\ncredential = "bench"\n'
    )
    (root / "agents" / "intake" / "SKILL.md").write_text(
        "---\ndescription: takes pushes\n---\nRun.\n"
    )
    event = "push" if matched else "release"
    (root / "agents" / "intake" / "config.toml").write_text(
        "maxWorkQueueSize = 100000000\n\n[[webhooks]]\n"
        f'source = "github"\nevents = ["{event}"]\n\n[hooks]\npre = ["true"]\n'
    )
    return root


def cpu_seconds(pid: int) -> float:
    """
    The user and system CPU time process ``pid`` has used.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    """
    The ``p``-th percentile (nearest rank) of ``values``.
    """
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def durable(db_path: Path, acked: list[str], matched: bool) -> tuple[int, int]:
    """
    Count, among the acknowledged delivery ids, those stored as receipts and
    those with a queued trigger row of the agent.
    """

    def count(conn: sqlite3.Connection) -> tuple[int, int]:
        conn.execute("CREATE TEMP TABLE acked (delivery_id TEXT PRIMARY KEY)")
        conn.executemany("INSERT INTO acked VALUES (?)", [(d,) for d in acked])
        (receipts,) = conn.execute(
            "SELECT count(*) FROM receipts JOIN acked USING (delivery_id)"
            " WHERE verdict = 'verified'"
        ).fetchone()
        (queued,) = conn.execute(
            "SELECT count(DISTINCT r.receipt_id) FROM receipts AS r"
            " JOIN acked USING (delivery_id) JOIN triggers AS t"
            " ON t.receipt_id = r.receipt_id AND t.agent = 'intake'"
            " AND t.result = 'queued'"
        ).fetchone()
        return receipts, queued

    return Database(db_path, IReactorFromThreads(reactor)).run_sync(count)


def case(name: str, matched: bool, seconds: float, connections: int) -> None:
    """
    Run one case on a fresh project and print its figures.
    """
    with tempfile.TemporaryDirectory(prefix="al-bench-webhooks-") as scratch:
        root = write_project(Path(scratch) / "project", matched)
        service = RunningService(root)
        home = Path(service.home)
        CredentialStore(home).write("github_webhook_secret", "bench", "secret", SECRET)
        key = CredentialStore(home).gateway_key()
        if matched:
            pause = urllib.request.Request(
                service.url + "/control/pause",
                method="POST",
                headers={"Authorization": f"Bearer {key}"},
            )
            urllib.request.urlopen(pause).close()
        out = Path(scratch) / "client.json"
        cpu_before = cpu_seconds(service.process.pid)
        subprocess.run(
            [
                sys.executable,
                __file__,
                "client",
                service.url,
                "/webhooks/github",
                str(seconds),
                str(connections),
                str(out),
            ],
            check=True,
        )
        cpu = cpu_seconds(service.process.pid) - cpu_before
        service.process.kill()
        service.process.wait()
        result = json.loads(out.read_text())
        acked = result["acked"]
        receipts, queued = durable(root / ".al" / "action-llama.db", acked, matched)
    latencies = [s * 1000 for s in result["latencies"]]
    rate = len(acked) / result["elapsed"]
    print(f"({name})")
    print(
        f"  {len(acked)} deliveries answered 2xx in {result['elapsed']:.1f} s:"
        f" {rate:,.0f}/s with {connections} connections"
    )
    print(
        f"  latency p50 {statistics.median(latencies):.1f} ms,"
        f" p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms"
    )
    print(
        f"  service CPU {cpu:.1f} s over the run"
        f" ({cpu / result['elapsed'] * 100:.0f}% of one core)"
    )
    if result["failures"]:
        print(f"  {len(result['failures'])} not 2xx, e.g. {result['failures'][0]}")
    print(
        f"  after SIGKILL: {receipts}/{len(acked)} acknowledged receipts stored", end=""
    )
    print(f", {queued}/{len(acked)} queued for the agent" if matched else "")
    assert receipts == len(acked), "an acknowledged delivery was lost"
    assert not matched or queued == len(acked), (
        "an acknowledged delivery was not queued"
    )


def main(argv: list[str]) -> None:
    """
    Run both cases.
    """
    if argv[:1] == ["client"]:
        client(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    options = parser.parse_args(argv)
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(
        f"{os.cpu_count()} CPUs, load average {load};"
        f" payload {PAYLOAD.name} ({PAYLOAD.stat().st_size} B)"
    )
    case("a: matched and queued", True, options.seconds, options.connections)
    case("b: dead-lettered", False, options.seconds, options.connections)


if __name__ == "__main__":
    main(sys.argv[1:])
