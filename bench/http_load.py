"""
Requests per second and latency of the gateway under load: ``GET /health``
and an authenticated ``GET /control/status``, against a bare Twisted
``Site`` that answers a constant (the ceiling), all in one run.

Each server runs in a process of its own (the gateway as ``al start`` on a
copy of the example project, with a private HOME), and the load comes from
``wrk`` in another, on 127.0.0.1 only.

Run: ``python bench/http_load.py [--seconds 10] [--connections 50] [--rounds 1]``;
it needs ``wrk`` (Debian: ``apt-get install wrk``). With several rounds the
targets take turns and each figure is the median, which steadies the result
on a busy machine. Target: ``/health`` within 70% of the ceiling.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import QUICKSTART

#: wrk's latency units, in milliseconds.
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def serve_bare() -> None:
    """
    Serve a constant JSON answer with a bare ``Site`` until killed, after
    printing the URL: the most this Twisted can do per request.
    """
    from twisted.internet import reactor
    from twisted.internet.address import IPv4Address
    from twisted.internet.endpoints import TCP4ServerEndpoint
    from twisted.internet.interfaces import IListeningPort, IReactorCore, IReactorTCP
    from twisted.web.http import Request as HTTPRequest
    from twisted.web.resource import Resource
    from twisted.web.server import Request, Site

    class Constant(Resource):
        isLeaf = True

        def render_GET(self, request: Request) -> bytes:
            request.setHeader(b"content-type", b"application/json")
            return b'{"status":"ok"}'

    class QuietSite(Site):
        noisy = False

        def log(self, request: HTTPRequest) -> None:
            pass

    def listening(port: IListeningPort) -> None:
        address = port.getHost()
        assert isinstance(address, IPv4Address)
        print(f"listening on http://127.0.0.1:{address.port}", flush=True)

    endpoint = TCP4ServerEndpoint(IReactorTCP(reactor), 0, interface="127.0.0.1")
    endpoint.listen(QuietSite(Constant())).addCallback(listening)
    IReactorCore(reactor).run()


class Server:
    """
    A server in a child process; its output is read (so the process never
    blocks on a full pipe) and scanned for the URL it listens on.

    :param argv: the command.
    :param pattern: finds the URL in a line of output (group 1).
    """

    def __init__(
        self, argv: list[str], pattern: str, env: dict[str, str] | None = None
    ) -> None:
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        self.url = ""
        for line in self.process.stdout:
            match = re.search(pattern, line)
            if match:
                self.url = match.group(1)
                break
        if not self.url:
            raise RuntimeError(f"{argv[:4]} ended before it listened")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def stop(self) -> None:
        """
        Stop the server and wait for it.
        """
        self.process.terminate()
        self.process.wait(timeout=60)


@contextmanager
def servers(home: Path, project: Path) -> Iterator[tuple[Server, Server, str]]:
    """
    Start the bare ``Site`` and the gateway; stop both afterwards.

    :returns: the bare server, the gateway and the gateway's API key.
    """
    bare = Server(
        [sys.executable, __file__, "--serve-bare"], r"listening on (http://\S+)"
    )
    try:
        gateway = Server(
            [
                sys.executable,
                "-m",
                "action_llama",
                "start",
                "-p",
                str(project),
                "--port",
                "0",
            ],
            r"Gateway listening on (http://\S+)",
            env=dict(os.environ, HOME=str(home)),
        )
        try:
            key_path = home / ".action-llama/credentials/gateway_api_key/default/key"
            yield bare, gateway, key_path.read_text().strip()
        finally:
            gateway.stop()
    finally:
        bare.stop()


def quiet_copy(target: Path) -> Path:
    """
    A copy of the example project whose heartbeat runs once a year, so no
    run starts during the measurement.
    """
    shutil.copytree(QUICKSTART, target, ignore=shutil.ignore_patterns(".al"))
    config = target / "agents" / "heartbeat" / "config.toml"
    config.write_text(config.read_text().replace("* * * * *", "0 0 1 1 *"))
    return target


def _find(pattern: str, output: str) -> re.Match[str]:
    """
    The first match of ``pattern`` in wrk's ``output``.

    :raises RuntimeError: if there is none.
    """
    match = re.search(pattern, output)
    if match is None:
        raise RuntimeError(f"wrk printed nothing like {pattern!r}:\n{output}")
    return match


def load(
    url: str, seconds: float, connections: int, headers: dict[str, str]
) -> dict[str, float]:
    """
    Run wrk against ``url``.

    :returns: ``rps``, ``p50`` and ``p99`` (milliseconds) and ``errors``
        (answers other than 2xx/3xx, and socket errors).
    """
    argv = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*argv, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    figures = {"rps": float(_find(r"Requests/sec:\s+([\d.]+)", output)[1])}
    for name, percent in (("p50", "50"), ("p99", "99")):
        value, unit = _find(rf"\s{percent}%\s+([\d.]+)(us|ms|s)\b", output).groups()
        figures[name] = float(value) * _UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors:.*", output)
    figures["errors"] = float(errors[1]) if errors else 0.0
    if sockets:
        figures["errors"] += sum(int(n) for n in re.findall(r"\d+", sockets[0]))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve_bare:
        serve_bare()
        return
    if shutil.which("wrk") is None:
        sys.exit("bench/http_load.py needs wrk (Debian: apt-get install wrk)")

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        project = quiet_copy(Path(tmp) / "project")
        with servers(home, project) as (bare, gateway, key):
            targets = [
                ("bare Site, constant (ceiling)", bare.url + "/", {}),
                ("GET /health", gateway.url + "/health", {}),
                (
                    "GET /control/status (Bearer)",
                    gateway.url + "/control/status",
                    {"Authorization": f"Bearer {key}"},
                ),
            ]
            for _, url, headers in targets:
                load(url, 1, options.connections, headers)
            rounds: dict[str, list[dict[str, float]]] = {
                name: [] for name, _, _ in targets
            }
            for _ in range(options.rounds):
                for name, url, headers in targets:
                    rounds[name].append(
                        load(url, options.seconds, options.connections, headers)
                    )
    results = {
        name: {
            figure: statistics.median(run[figure] for run in runs) for figure in runs[0]
        }
        for name, runs in rounds.items()
    }

    print(
        f"{options.connections} connections, {options.seconds:g} s each, "
        f"median of {options.rounds} interleaved round(s), wrk with 2 threads, "
        "127.0.0.1"
    )
    print(f"{'target':<32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, figures in results.items():
        print(
            f"{name:<32} {figures['rps']:>9.0f} {figures['p50']:>8.2f} "
            f"{figures['p99']:>8.2f} {figures['errors']:>7.0f}"
        )
    ceiling = results["bare Site, constant (ceiling)"]["rps"]
    share = results["GET /health"]["rps"] / ceiling
    verdict = "meets" if share >= 0.7 else "misses"
    print(f"/health reaches {share:.0%} of the ceiling ({verdict} the 70% target)")


if __name__ == "__main__":
    main()
