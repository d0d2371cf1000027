"""
Dispatch: how fast a manual trigger becomes a child process, and how fast a
deep queue drains.

The real service (``makeService``) runs in this process on the real reactor;
the benchmark talks to its gateway over HTTP on 127.0.0.1 with the API key,
like the CLI does. The runtime the scheduler uses is wrapped to note the
moment ``spawnProcess`` has returned for each run.

1. Latency: ``LATENCY_SAMPLES`` triggers of an idle agent, one at a time
   (each run ends before the next trigger): from sending
   ``POST /control/trigger`` to ``spawnProcess`` returning, which excludes
   the child interpreter's own start (target: p50 under 20 ms). The answer's
   arrival and the time spent inside the runtime's ``start`` (staging the
   run directory, spawning) are shown beside it. The time includes the
   HTTP client in the same process, so it overstates the server's part.
2. Throughput: with the scheduler paused, ``QUEUED`` triggers are queued
   through the API; then it is resumed and the queue drains through
   ``scale = 8`` runners (hook ``true``): items per second from the resume
   to the last run recorded.

Run: ``python bench/dispatch.py [QUEUED]`` (default 10,000 items; the drain
takes a few minutes on a small machine).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import treq
from twisted.internet import task
from twisted.internet.defer import Deferred, DeferredList, DeferredSemaphore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import generate_project

from action_llama.config import load_project
from action_llama.credentials import CredentialStore
from action_llama.service import ServiceOptions, makeService

SCALE = 8
LATENCY_WARMUP = 20
LATENCY_SAMPLES = 300
QUEUED = 10_000

#: Trigger requests in flight at once while filling the queue.
FILL_CONCURRENCY = 32


def percentile(values: list[float], p: float) -> float:
    """
    The ``p``-th percentile (nearest rank) of ``values``.
    """
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(values: list[float]) -> str:
    """
    p50, p99 and max of millisecond figures.
    """
    return (
        f"p50 {statistics.median(values):.1f} ms, p99 {percentile(values, 99):.1f}"
        f" ms, max {max(values):.1f} ms"
    )


class TimedRuntime:
    """
    Wraps the service's runtime, noting when each run's ``start`` began and
    returned (``spawnProcess`` is its last step).
    """

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime
        self.entered: dict[str, float] = {}
        self.returned: dict[str, float] = {}

    def start(self, spec: Any, on_line: Any) -> Any:
        self.entered[spec.instance_id] = time.perf_counter()
        handle = self._runtime.start(spec, on_line)
        self.returned[spec.instance_id] = time.perf_counter()
        return handle


async def main(reactor: Any, queued: int) -> None:
    tmp = tempfile.mkdtemp(prefix="al-bench-dispatch-")
    os.environ["HOME"] = tmp
    root = generate_project(
        Path(tmp) / "project",
        1,
        schedule="0 0 1 1 *",
        project_toml=f"workQueueSize = {queued + 100}\n",
    )
    config = root / "agents" / "agent-0000" / "config.toml"
    config.write_text(f"scale = {SCALE}\n" + config.read_text())
    service = makeService(ServiceOptions(load_project(root), port=0), reactor)
    scheduler = service.getServiceNamed("scheduler")
    timed = TimedRuntime(scheduler.runtime)
    scheduler.runtime = timed
    service.startService()
    port = await service.getServiceNamed("gateway").when_listening()
    await scheduler.ready
    base = f"http://127.0.0.1:{port.getHost().port}"
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    headers: dict[bytes | str, bytes | str] = {
        "Authorization": f"Bearer {CredentialStore().gateway_key()}"
    }

    async def post(path: str, body: Any = None) -> dict[str, Any]:
        response = await treq.post(
            base + path, json=body if body is not None else {}, headers=headers
        )
        answer: dict[str, Any] = await response.json()
        if response.code != 200:
            raise RuntimeError(f"POST {path}: {response.code} {answer}")
        return answer

    to_spawn, to_answer, in_start = [], [], []
    for i in range(LATENCY_WARMUP + LATENCY_SAMPLES):
        sent = time.perf_counter()
        answer = await post("/control/trigger/agent-0000")
        answered = time.perf_counter()
        instance_id = answer["instanceId"]
        instance = scheduler.instance(instance_id)
        if instance is not None and instance.ended is not None:
            await instance.ended
        if i >= LATENCY_WARMUP:
            to_spawn.append(1000 * (timed.returned[instance_id] - sent))
            to_answer.append(1000 * (answered - sent))
            in_start.append(
                1000 * (timed.returned[instance_id] - timed.entered[instance_id])
            )
    print(f"manual trigger, idle agent ({LATENCY_SAMPLES} runs, one at a time):")
    print(f"  POST sent -> spawnProcess returned: {summary(to_spawn)}")
    print("    (target p50 < 20 ms)")
    print(f"  POST sent -> answer received:       {summary(to_answer)}")
    print(f"  inside runtime.start (stage+spawn): {summary(in_start)}")

    await post("/control/pause")
    semaphore = DeferredSemaphore(FILL_CONCURRENCY)
    fill_began = time.perf_counter()
    await DeferredList(
        [
            semaphore.run(post, "/control/trigger/agent-0000", {"context": {"n": n}})
            for n in range(queued)
        ],
        fireOnOneErrback=True,
        consumeErrors=True,
    )
    fill = time.perf_counter() - fill_began
    [agent] = scheduler.snapshot()["agents"]
    print(
        f"queued {agent['queueDepth']} items through the API in {fill:.1f} s "
        f"({queued / fill:.0f} triggers/s, {FILL_CONCURRENCY} in flight)"
    )

    drained: Deferred[None] = Deferred()

    def changed(event: Any) -> None:
        [agent] = scheduler.snapshot()["agents"]
        if agent["queueDepth"] == 0 and agent["runningCount"] == 0:
            if not drained.called:
                drained.callback(None)

    unsubscribe = scheduler.events.subscribe("state", changed)
    began_spawns = len(timed.returned)
    drain_began = time.perf_counter()
    await post("/control/resume")
    await drained
    drain = time.perf_counter() - drain_began
    unsubscribe()
    runs = len(timed.returned) - began_spawns
    summaries = await scheduler.store.run_summary(0.0)
    outcomes = summaries["agent-0000"].outcomes
    print(
        f"drained {runs} queued items through scale {SCALE} in {drain:.1f} s: "
        f"{runs / drain:.1f} items/s"
    )
    print(f"  outcomes of all runs so far: {outcomes}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    await service.stopService()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else QUEUED
    task.react(lambda reactor: Deferred.fromCoroutine(main(reactor, count)))
