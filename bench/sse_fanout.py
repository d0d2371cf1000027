"""
1,000 clients on the status stream of one gateway: how long a change takes
to reach the last of them, what the change's POST costs, and what the
clients cost the gateway in memory and in CPU while nothing happens.

The service runs in a child process (``al start``). The clients are plain
non-blocking sockets in this process, on 127.0.0.1 only, read by one
``selectors`` loop so that the client side adds as little as it can to the
figures.

Run: ``python bench/sse_fanout.py`` (targets: the last client has the event
under 100 ms after ``POST /control/pause`` is sent; under 40 KiB of gateway
RSS per client).
"""

from __future__ import annotations

import os
import resource
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RunningService, generate_project, rss_kib

CLIENTS = 1000
BATCH = 50
ROUNDS = 10
IDLE_SECONDS = 20.0
TIMEOUT = 30.0


def cpu_seconds(pid: int) -> float:
    """
    The user and system CPU time process ``pid`` has used, in seconds.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Fleet:
    """
    The stream connections, and one loop that reads them all.
    """

    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.key = key
        self.selector = selectors.DefaultSelector()
        self.sockets: list[socket.socket] = []

    def _request(self, method: str, path: str, more: str = "") -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{more}"
            f"Authorization: Bearer {self.key}\r\nContent-Length: 0\r\n\r\n".encode()
        )
        sock.setblocking(False)
        return sock

    def connect(self, count: int) -> None:
        """
        Open ``count`` more streams, a batch at a time, each read up to its
        first event.
        """
        for _ in range(0, count, BATCH):
            batch = [
                self._request("GET", "/dashboard/api/status-stream")
                for _ in range(BATCH)
            ]
            self.read_until(batch, b"event: status", None)
            self.sockets.extend(batch)

    def read_until(
        self, waiting: list[socket.socket], marker: bytes, extra: socket.socket | None
    ) -> tuple[dict[socket.socket, float], float | None]:
        """
        Read every socket until each of ``waiting`` has received ``marker``
        and ``extra`` (a request's connection) has been answered and closed.

        :returns: when each socket of ``waiting`` had the marker, and when
            ``extra`` was answered.
        """
        for sock in waiting:
            self.selector.register(sock, selectors.EVENT_READ)
        if extra is not None:
            self.selector.register(extra, selectors.EVENT_READ)
        arrived: dict[socket.socket, float] = {}
        tails = dict.fromkeys(waiting, b"")
        answered = None
        deadline = time.perf_counter() + TIMEOUT
        while len(arrived) < len(waiting) or (extra is not None and answered is None):
            if time.perf_counter() > deadline:
                raise RuntimeError(f"only {len(arrived)} clients had {marker!r}")
            for key, _ in self.selector.select(1.0):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                data = sock.recv(1 << 16)
                now = time.perf_counter()
                if sock is extra:
                    if not data:
                        answered = now
                        self.selector.unregister(sock)
                        sock.close()
                    continue
                if sock not in arrived and marker in tails[sock] + data:
                    arrived[sock] = now
                    self.selector.unregister(sock)
                tails[sock] = data[-64:]
        return arrived, answered

    def change(self, action: str, marker: bytes) -> tuple[float, float]:
        """
        ``POST /control/<action>`` and wait until every stream has ``marker``.

        :returns: seconds from sending the POST until the last stream had
            the marker, and until the POST was answered.
        """
        sent = time.perf_counter()
        post = self._request("POST", f"/control/{action}", "Connection: close\r\n")
        arrived, answered = self.read_until(self.sockets, marker, post)
        assert answered is not None
        return max(arrived.values()) - sent, answered - sent

    def close(self) -> None:
        """
        Close every stream.
        """
        for sock in self.sockets:
            sock.close()


def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as tmp:
        project = generate_project(Path(tmp) / "project", 3, schedule="0 0 1 1 *")
        service = RunningService(project)
        assert service.process.stdout is not None
        threading.Thread(target=service.process.stdout.read, daemon=True).start()
        keys = Path(service.home, ".action-llama/credentials/gateway_api_key")
        key = (keys / "default" / "key").read_text().strip()
        pid = service.process.pid
        fleet = Fleet(int(service.url.rsplit(":", 1)[1]), key)
        try:
            before = rss_kib(pid)
            started = time.perf_counter()
            fleet.connect(CLIENTS)
            connected = time.perf_counter() - started
            after = rss_kib(pid)
            changes = [("pause", b'"paused":true'), ("resume", b'"paused":false')]
            rounds = [fleet.change(*changes[n % 2]) for n in range(ROUNDS)]
            cpu_before = cpu_seconds(pid)
            time.sleep(IDLE_SECONDS)
            idle_cpu = (cpu_seconds(pid) - cpu_before) / IDLE_SECONDS
        finally:
            fleet.close()
            service.stop()
    last = [r[0] * 1000 for r in rounds]
    posts = [r[1] * 1000 for r in rounds]
    print(f"{CLIENTS} status-stream clients connected in {connected:.2f} s")
    print(
        f"POST to the last client having the event: median "
        f"{statistics.median(last):.1f} ms, max {max(last):.1f} ms over {ROUNDS} "
        f"pause/resume rounds (target < 100 ms)"
    )
    print(
        f"POST /control/pause|resume answered in: median "
        f"{statistics.median(posts):.1f} ms, max {max(posts):.1f} ms"
    )
    print(
        f"gateway RSS: {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB with "
        f"the clients: {(after - before) / CLIENTS:.1f} KiB per client "
        f"(target < 40 KiB)"
    )
    print(
        f"gateway CPU while idle with the clients: {idle_cpu * 100:.2f}% of one "
        f"core over {IDLE_SECONDS:.0f} s (keep-alives every 15 s)"
    )


if __name__ == "__main__":
    main()
