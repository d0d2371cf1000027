"""
A 2xx to a webhook is a promise: ``al start`` in a real process is killed
with SIGKILL in the middle of a stream of signed GitHub deliveries sent by a
separate client process, and every delivery that was answered 2xx is found
afterwards, stored and queued for its agent, by the database and by a
restarted service.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from pathlib import Path

import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThread
from twisted.web.http_headers import Headers

from action_llama.credentials import CredentialStore
from action_llama.store import Database
from tests.helpers import al_argv, spawn

from .harness import within
from .webhook_harness import FIXTURES, SECRETS, store_secret, write_webhook_project

LISTENING = r"Gateway listening on (http://127\.0\.0\.1:\d+)"

#: How many 2xx the client must have seen before the service is killed.
BEFORE_KILL = 300

#: The client: sends signed GitHub deliveries with distinct delivery ids from
#: several threads over keep-alive connections, prints ``OK <delivery id>
#: <receipt id>`` for each 2xx and ``HALFWAY`` after the given number of
#: them, and stops once the gateway is gone.
CLIENT = """
import hashlib, hmac, http.client, json, sys, threading, uuid

host, port = sys.argv[1].removeprefix("http://").split(":")
secret, body, halfway = sys.argv[2].encode(), open(sys.argv[3], "rb").read(), int(
    sys.argv[4]
)
signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
lock = threading.Lock()
seen = [0]


def send() -> None:
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    while True:
        delivery = str(uuid.uuid4())
        try:
            connection.request(
                "POST",
                "/webhooks/github",
                body,
                {
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "push",
                    "X-GitHub-Delivery": delivery,
                    "X-Hub-Signature-256": signature,
                },
            )
            response = connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException):
            return
        if 200 <= response.status < 300:
            receipt = json.loads(answer)["receiptId"]
            with lock:
                seen[0] += 1
                sys.stdout.write(f"OK {delivery} {receipt}\\n")
                if seen[0] == halfway:
                    sys.stdout.write("HALFWAY\\n")
                sys.stdout.flush()


threads = [threading.Thread(target=send) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def project(root: Path) -> Path:
    """
    A signed GitHub source and one agent, whose runs do nothing, on its
    pushes, with room in its queue for every delivery.
    """
    return write_webhook_project(
        root,
        {"github": ("github", "test")},
        {
            "durable": {
                "webhooks": [{"source": "github", "events": ["push"]}],
                "maxWorkQueueSize": 1_000_000,
                "pre": ["true"],
            }
        },
    )


def stored(db_path: Path, receipts: dict[str, str]) -> dict[str, tuple[str, int]]:
    """
    Read what the database holds for the deliveries in ``receipts``
    (delivery id to receipt id), with no service running.

    :returns: for each delivery id stored as a verified receipt, its
        receipt id and how many trigger rows of the agent name it.
    """

    def read(conn: sqlite3.Connection) -> dict[str, tuple[str, int]]:
        rows = conn.execute(
            "SELECT r.delivery_id, r.receipt_id, count(t.id) AS dispatched"
            " FROM receipts AS r LEFT JOIN triggers AS t"
            " ON t.receipt_id = r.receipt_id AND t.agent = 'durable'"
            " WHERE r.verdict = 'verified' GROUP BY r.receipt_id"
        ).fetchall()
        return {
            row["delivery_id"]: (row["receipt_id"], row["dispatched"])
            for row in rows
            if row["delivery_id"] in receipts
        }

    return Database(db_path, IReactorFromThreads(reactor)).run_sync(read)


@pytest_twisted.ensureDeferred
async def test_every_acknowledged_delivery_survives_sigkill(tmp_path: Path) -> None:
    """
    Every delivery answered 2xx before the service was killed with SIGKILL
    is stored, with its receipt id, and queued for its agent.
    """
    store_secret("github")
    root = project(tmp_path / "p")
    service = spawn(reactor, al_argv("start", "-p", str(root), "--port", "0"))
    url = (await service.wait_for(LISTENING, reactor)).group(1)
    auth = Headers({"Authorization": [f"Bearer {CredentialStore().gateway_key()}"]})
    paused = await within(
        treq.post(url + "/control/pause", headers=auth),
        "pause",
    )
    assert paused.code == 200
    (tmp_path / "client.py").write_text(CLIENT)
    client = spawn(
        reactor,
        [
            sys.executable,
            str(tmp_path / "client.py"),
            url,
            SECRETS["github"]["secret"],
            str(FIXTURES / "github" / "push.json"),
            str(BEFORE_KILL),
        ],
    )
    await client.wait_for("HALFWAY", reactor, timeout=60)
    service.signal("KILL")
    assert await within(service.ended, "the service to die") != 0
    await within(client.ended, "the client to stop", timeout=30)
    acknowledged = dict(re.findall(r"^OK (\S+) (\S+)$", client.output, re.M))
    assert len(acknowledged) >= BEFORE_KILL

    found = await within(
        deferToThread(stored, root / ".al" / "action-llama.db", acknowledged),
        "the database to be read",
    )
    missing = set(acknowledged) - set(found)
    assert not missing, f"{len(missing)} acknowledged deliveries were lost"
    assert {d: r for d, (r, _) in found.items()} == acknowledged
    assert [d for d, (_, n) in found.items() if n != 1] == []

    restarted = spawn(reactor, al_argv("start", "-p", str(root), "--port", "0"))
    url = (await restarted.wait_for(LISTENING, reactor)).group(1)
    try:
        for delivery_id, receipt_id in list(acknowledged.items())[-20:]:
            response = await within(
                treq.get(f"{url}/api/stats/webhooks/{receipt_id}", headers=auth),
                "a receipt",
            )
            receipt = await response.json()
            assert response.code == 200, receipt
            assert receipt["deliveryId"] == delivery_id
            assert receipt["matched"] == ["durable"]
    finally:
        restarted.signal("TERM")
        await within(restarted.ended, "the restarted service to stop", timeout=30)
