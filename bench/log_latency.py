"""
How long a line a run writes takes to reach a client of that agent's log
stream: the run stamps each line with the time it wrote it, and the client
notes when the line arrived.

The service runs in a child process (``al start``); the client is a plain
socket in this process, on 127.0.0.1 only.

Run: ``python bench/log_latency.py`` (target: p99 under 50 ms).
"""

from __future__ import annotations

import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RunningService, generate_project

LINES = 200
HOOK = (
    f'for i in $(seq {LINES}); do echo \\"$(date +%s.%N) line $i\\"; sleep 0.01; done'
)
TIMEOUT = 60.0


def request(port: int, key: str, method: str, path: str) -> socket.socket:
    """
    Send a request with the key; the answer is left to read.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.sendall(
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Bearer {key}\r\nContent-Length: 0\r\n\r\n".encode()
    )
    return sock


def follow(stream: socket.socket, latencies: list[float]) -> None:
    """
    Read the log stream until the run's last line; for each stamped line,
    note how long after its stamp it arrived.
    """
    pending = b""
    while len(latencies) < LINES:
        data = stream.recv(1 << 16)
        now = time.time()
        if not data:
            raise RuntimeError(f"the stream ended after {len(latencies)} lines")
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            if not line.startswith(b"data: "):
                continue
            stamp, _, rest = json.loads(line[6:])["message"].partition(" ")
            if rest.startswith("line "):
                latencies.append(now - float(stamp))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = generate_project(
            Path(tmp) / "project", 1, schedule="0 0 1 1 *", hook=HOOK
        )
        service = RunningService(project)
        assert service.process.stdout is not None
        threading.Thread(target=service.process.stdout.read, daemon=True).start()
        keys = Path(service.home, ".action-llama/credentials/gateway_api_key")
        key = (keys / "default" / "key").read_text().strip()
        port = int(service.url.rsplit(":", 1)[1])
        latencies: list[float] = []
        try:
            stream = request(port, key, "GET", "/dashboard/api/logs/agent-0000/stream")
            reader = threading.Thread(target=follow, args=(stream, latencies))
            reader.start()
            with request(port, key, "POST", "/control/trigger/agent-0000") as post:
                answer = post.recv(1 << 16)
            if not answer.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"the trigger answered {answer[:100]!r}")
            reader.join(TIMEOUT)
            stream.close()
        finally:
            service.stop()
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, round(len(ms) * 0.99))]
    print(
        f"{len(ms)} lines from a run's stdout to a log-stream client: "
        f"p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms "
        f"(target p99 < 50 ms)"
    )


if __name__ == "__main__":
    main()
