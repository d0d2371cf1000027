"""
What an LLM session costs beyond the model and the tools: a real run child
holds a 20-turn session (19 ``bash`` calls, then a final answer) against the
scripted model API of the tests on 127.0.0.1, which also takes the usage
reports as the gateway would.

Per turn, the runtime's overhead is the time from the API writing one answer
to the next request reaching it, minus the time the child measured for the
command it ran in between: parsing the answer, logging, starting and
reaping the command, masking, building and sending the next request. The
child's RSS is sampled as each request arrives.

Run: ``python bench/session.py`` (target: under 5 ms of overhead per turn).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from twisted.internet import task
from twisted.internet.defer import maybeDeferred
from twisted.web.server import Request

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import rss_kib

from action_llama.runtime import LogLine, ProcessRuntime, RunSpec
from tests.agent.session.plumbing import Servers
from tests.agent.session.support import ScriptedAPI, Step, bash, say

TURNS = 20
ROUNDS = 3


class TimedAPI(ScriptedAPI):
    """
    The scripted API, noting when each model request arrives and when its
    answer is written, and the child's RSS at each arrival.
    """

    def __init__(self, steps: list[Step]) -> None:
        super().__init__("anthropic", steps)
        self.arrived: list[float] = []
        self.answered: list[float] = []
        self.rss: list[int] = []
        self.pid: int | None = None

    def render_POST(self, request: Request) -> bytes | int:
        model_request = not request.path.startswith(b"/signals/")
        if model_request:
            self.arrived.append(time.perf_counter())
            if self.pid is not None:
                self.rss.append(rss_kib(self.pid))
        body = super().render_POST(request)
        if model_request:
            self.answered.append(time.perf_counter())
        return body


async def one_session(reactor: Any, state: Path, number: int) -> dict[str, Any]:
    """
    Run one session to its end.

    :returns: its per-turn overheads (ms), command times (ms), the child's
        peak RSS (KiB) and the seconds from start to first request.
    """
    steps = [bash(f"echo turn {n}") for n in range(1, TURNS)] + [say("done")]
    api = TimedAPI(steps)
    servers = Servers()
    url = servers.serve(api)
    lines: list[LogLine] = []
    spec = RunSpec(
        instance_id=f"bench-{number}",
        agent_name="bench",
        run_dir=state / "runs" / f"bench-{number}",
        env={"GATEWAY_URL": url, "AL_RUN_SECRET": "bench", "ANTHROPIC_API_KEY": "k"},
        run_file={
            "agent": "bench",
            "models": [
                {"name": "m", "provider": "anthropic", "model": "x", "baseUrl": url}
            ],
            "instructions": "Benchmark.",
            "trigger": {"type": "manual"},
        },
        timeout=120,
    )
    started = time.perf_counter()
    handle = ProcessRuntime(reactor, state).start(spec, lines.append)
    api.pid = handle.pid
    result = await handle.finished
    for port in servers.ports:
        await maybeDeferred(port.stopListening)
    if result.outcome != "completed":
        raise RuntimeError(f"the session ended {result}: {[x.message for x in lines]}")
    commands = [
        float(line.fields["seconds"]) for line in lines if "exitCode" in line.fields
    ]
    gaps = [
        (api.arrived[n + 1] - api.answered[n] - commands[n]) * 1000
        for n in range(len(commands))
    ]
    return {
        "overheads": gaps,
        "commands": [c * 1000 for c in commands],
        "rss": max(api.rss),
        "first": api.arrived[0] - started,
    }


async def main(reactor: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = [
            await one_session(reactor, Path(tmp), n) for n in range(1, ROUNDS + 1)
        ]
    overheads = sorted(o for r in results for o in r["overheads"])
    commands = sorted(c for r in results for c in r["commands"])
    p90 = overheads[int(0.9 * (len(overheads) - 1))]
    print(
        f"{ROUNDS} sessions of {TURNS} turns: runtime overhead per turn"
        f" median {statistics.median(overheads):.2f} ms, p90 {p90:.2f} ms,"
        f" max {overheads[-1]:.2f} ms ({len(overheads)} turns with a command;"
        f" the command itself took median {statistics.median(commands):.2f} ms,"
        " not counted)"
    )
    firsts = sorted(r["first"] for r in results)
    print(
        f"child start to first model request: median"
        f" {statistics.median(firsts) * 1000:.0f} ms"
    )
    print(f"child RSS: peak {max(r['rss'] for r in results) / 1024:.1f} MiB")


if __name__ == "__main__":
    task.react(main)
