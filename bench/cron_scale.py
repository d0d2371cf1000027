"""
Cron at scale: 1,000 script agents (hook ``true``) on ``H * * * *``, so
their fires spread over the hour, in a project capped at ``scale = 16``.

The real service (``makeService``: scheduler, store, gateway, child-process
runtime) runs in this process and measures:

- the lag from each cron due time to its run starting: the scheduler's
  "Run started" log record, and the moment ``spawnProcess`` returned,
  against the due minute (target: p99 under 100 ms);
- the service's CPU use between fires, over an idle window of real time
  (process CPU time from ``resource.getrusage``, as % of one core; the runs'
  children are not counted; target: under 1 %).

An hour of fires in real time would take an hour. Instead the service is
given a reactor whose clock skips the idle time between fires: once nothing
runs, the one cron timer is moved to fire ``LEAD`` seconds of real time
later, and the clock jumps forward to match. Everything from a timer's wake
to the spawn, and the idle window, runs in real time; only the empty
stretches of the hour are skipped.

Run: ``python bench/cron_scale.py``. It takes about three minutes: start-up,
up to ``WARP_BUDGET`` seconds of compressed fires (up to one hour of
schedule), then an ``IDLE_WINDOW`` of real idle time.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IReactorCore,
    IReactorFromThreads,
    IReactorProcess,
    IReactorTCP,
    IReactorTime,
)
from zope.interface import implementer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import generate_project, rss_kib

from action_llama.config import load_project
from action_llama.events import Event
from action_llama.service import ServiceOptions, makeService

AGENTS = 1000
PROJECT_SCALE = 16

#: Real seconds between the clock's jump and the fire it leads to.
LEAD = 0.5

#: Real seconds between two looks at whether the runs of a fire are over.
SETTLE_POLL = 0.05

#: Real seconds spent firing with the clock skipping ahead.
WARP_BUDGET = 120.0

#: Minutes of schedule to go through at most (one hour fires every agent).
WARP_MINUTES = 60

#: Real seconds of idle time over which CPU use is measured.
IDLE_WINDOW = 30.0


class _WarpedCall:
    """
    A delayed call of the warped clock: it fires once the warped time
    reaches its time, and, while warping and idle, makes the clock jump so
    that this happens ``LEAD`` real seconds from now.
    """

    def __init__(
        self, warp: WarpReactor, when: float, f: Callable[..., Any], args: Any
    ) -> None:
        self._warp = warp
        self._when = when
        self._f = f
        self._args = args
        self._real: Any = None
        self._done = False
        self._step()

    def _step(self) -> None:
        self._real = None
        remaining = self._when - self._warp.seconds()
        if remaining <= 0:
            self._done = True
            self._f(*self._args[0], **self._args[1])
            return
        if self._warp.warping and remaining > LEAD:
            if not self._warp.idle():
                remaining = SETTLE_POLL
            elif self._warp.budget_left():
                self._warp.offset += remaining - LEAD
                remaining = LEAD
            else:
                self._warp.finish()
        self._real = self._warp.real.callLater(remaining, self._step)

    def getTime(self) -> float:
        return self._when

    def active(self) -> bool:
        return not self._done

    def cancel(self) -> None:
        self._done = True
        if self._real is not None and self._real.active():
            self._real.cancel()

    def wake_now(self) -> None:
        """
        Re-evaluate at once (after warping was switched on).
        """
        if self._real is not None and self._real.active():
            self._real.cancel()
            self._step()


@implementer(
    IReactorTime, IReactorProcess, IReactorTCP, IReactorFromThreads, IReactorCore
)
class WarpReactor:
    """
    The real reactor, with a clock ``offset`` seconds ahead of it; the cron
    timer's delayed calls are `_WarpedCall` values, every other call goes
    to the real reactor unchanged.
    """

    def __init__(self, real: Any, offset: float) -> None:
        self.real = real
        self.offset = offset
        self.warping = False
        self.idle: Callable[[], bool] = lambda: True
        self.cron_calls: list[_WarpedCall] = []
        self.done: Deferred[float] = Deferred()
        self._first_minute = 0.0
        self._began = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def seconds(self) -> float:
        return float(self.real.seconds()) + self.offset

    def callLater(
        self,
        delay: float,
        callable: Callable[..., Any],
        *args: object,
        **kwargs: object,
    ) -> Any:
        if getattr(callable, "__qualname__", "") != "CronTimer._wake":
            return self.real.callLater(delay, callable, *args, **kwargs)
        call = _WarpedCall(self, self.seconds() + delay, callable, (args, kwargs))
        self.cron_calls = [c for c in self.cron_calls if c.active()] + [call]
        return call

    def start_warping(self) -> None:
        """
        Skip idle time from now on, until `WARP_MINUTES` of schedule or
        `WARP_BUDGET` real seconds have gone by; ``done`` fires then.
        """
        self.warping = True
        self._first_minute = self.seconds() // 60
        self._began = time.monotonic()
        for call in list(self.cron_calls):
            if call.active():
                call.wake_now()

    @property
    def minutes(self) -> int:
        """
        Minutes of schedule gone through since warping began.
        """
        return int(self.seconds() // 60 - self._first_minute)

    def budget_left(self) -> bool:
        """
        Whether to skip ahead to the next fire.
        """
        real = time.monotonic() - self._began
        return self.minutes < WARP_MINUTES and real < WARP_BUDGET

    def finish(self) -> None:
        """
        Stop skipping; time runs at its real pace from here.
        """
        self.warping = False
        self.done.callback(time.monotonic() - self._began)


def cpu_seconds() -> float:
    """
    CPU time (user and system) of this process so far, children excluded.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], p: float) -> float:
    """
    The ``p``-th percentile (nearest rank) of ``values``.
    """
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def main(reactor: Any) -> None:
    tmp = tempfile.mkdtemp(prefix="al-bench-cron-")
    os.environ["HOME"] = tmp
    root = generate_project(
        Path(tmp) / "project",
        AGENTS,
        schedule="H * * * *",
        project_toml=f"scale = {PROJECT_SCALE}\n",
    )
    # Begin 2 s after a minute boundary, so there is a whole minute before
    # the first fire.
    now = time.time()
    warp = WarpReactor(reactor, (now // 60 + 1) * 60 + 2 - now)
    service = makeService(ServiceOptions(load_project(root), port=0), warp)
    scheduler = service.getServiceNamed("scheduler")
    started: list[float] = []
    skipped = 0
    spawned: list[float] = []
    inside_start: list[float] = []

    def on_log(event: Event) -> None:
        nonlocal skipped
        record = event.data["record"]
        if record["message"].startswith("Run started (cron"):
            started.append(record["ts"])
        elif record["message"].startswith("Scheduled run skipped"):
            skipped += 1

    scheduler.events.subscribe("log", on_log)
    runtime = scheduler.runtime

    class TimedRuntime:
        """
        The service's runtime, noting when each spawn has returned and how
        long ``start`` (staging and spawning) took.
        """

        def start(self, spec: Any, on_line: Any) -> Any:
            entered = time.perf_counter()
            handle = runtime.start(spec, on_line)
            inside_start.append(1000 * (time.perf_counter() - entered))
            spawned.append(warp.seconds())
            return handle

    scheduler.runtime = TimedRuntime()
    # Runner slots are taken as soon as a tick fires, so a fire whose runs
    # have not started yet already counts as running.
    warp.idle = lambda: scheduler.snapshot()["schedulerInfo"]["runningCount"] == 0
    service.startService()
    await scheduler.ready
    print(
        f"{AGENTS} agents on 'H * * * *', project scale {PROJECT_SCALE}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )

    warp.start_warping()
    warp_real = await warp.done
    warp_minutes = warp.minutes

    next_fire = min(call.getTime() for call in warp.cron_calls if call.active())
    idle_room = next_fire - warp.seconds()
    window = min(IDLE_WINDOW, idle_room - 1.0)
    cpu_before, wall_before = cpu_seconds(), time.monotonic()
    await task.deferLater(reactor, window, lambda: None)
    cpu_used = cpu_seconds() - cpu_before
    wall = time.monotonic() - wall_before
    rss = rss_kib(os.getpid())
    load = os.getloadavg()[0]
    await service.stopService()

    log_lags = [1000 * (t - (t // 60) * 60) for t in started]
    spawn_lags = [1000 * (t - (t // 60) * 60) for t in spawned]
    first_of_minute: dict[float, float] = {}
    for t in spawned:
        first_of_minute.setdefault(t // 60, 1000 * (t - (t // 60) * 60))
    print(
        f"fired {warp_minutes} minutes of schedule in {warp_real:.0f} s of real "
        f"time: {len(started)} runs started, {skipped} ticks skipped (no runner "
        f"free within scale {PROJECT_SCALE})"
    )
    for name, lags in (
        ("due -> 'Run started' record", log_lags),
        ("due -> spawnProcess returned", spawn_lags),
        ("due -> first spawn of each minute", list(first_of_minute.values())),
        ("time inside runtime.start", inside_start),
    ):
        print(
            f"{name}: p50 {statistics.median(lags):.1f} ms, "
            f"p99 {percentile(lags, 99):.1f} ms, max {max(lags):.1f} ms "
            f"(n={len(lags)})"
        )
    print("(target: p99 of due -> spawn under 100 ms)")
    print(
        f"idle CPU between fires: {100 * cpu_used / wall:.3f} % of one core "
        f"({cpu_used * 1000:.0f} ms CPU over {wall:.1f} s; target < 1 %); "
        f"RSS {rss / 1024:.1f} MiB; load average at the end {load:.1f}"
    )


if __name__ == "__main__":
    task.react(lambda reactor: Deferred.fromCoroutine(main(reactor)))
