"""
Cron timing: one timer over a heap of next-fire times.

Every scheduled agent has one entry in a heap ordered by its next fire time.
One delayed call is armed for the earliest entry; when it fires, every entry
that is due is popped, handed to the scheduler and pushed back with its next
fire time. The cost of a wake-up depends on how many entries are due, not on
how many agents there are, and between fires nothing runs at all.

A due time that is far in the past when the timer wakes (the machine was
suspended, or the reactor was blocked) is not caught up: the entry moves on
to its next fire time after now, and the miss is logged once.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from ..cron import CronSchedule

#: A tick this late (seconds) counts as missed rather than fired late.
MISSED_AFTER = 30.0


class CronTimer:
    """
    Fires ``on_due(agent, due_time)`` at each agent's cron times.

    :param clock: the source of time and of the one delayed call.
    :param on_due: called for each due entry; an exception it raises is
        logged and the timer carries on.
    """

    log = Logger()

    def __init__(
        self, clock: IReactorTime, on_due: Callable[[str, float], None]
    ) -> None:
        self._clock = clock
        self._on_due = on_due
        self._schedules: dict[str, CronSchedule] = {}
        self._next: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._call: IDelayedCall | None = None
        self._running = False

    def set_schedule(self, agent: str, schedule: CronSchedule) -> None:
        """
        Fire ``agent`` on ``schedule`` from now on.
        """
        self._schedules[agent] = schedule
        due = schedule.next_after(self._clock.seconds())
        self._next[agent] = due
        heapq.heappush(self._heap, (due, agent))
        self._arm()

    def next_fire(self, agent: str) -> float | None:
        """
        When ``agent`` fires next, or ``None`` if it has no schedule.
        """
        return self._next.get(agent)

    def start(self) -> None:
        """
        Begin firing.
        """
        self._running = True
        self._arm()

    def stop(self) -> None:
        """
        Stop firing; no delayed call is left behind.
        """
        self._running = False
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _arm(self) -> None:
        """
        Make sure the one delayed call is set for the earliest entry.
        """
        if not self._running or not self._heap:
            return
        due = self._heap[0][0]
        delay = max(0.0, due - self._clock.seconds())
        if self._call is not None and self._call.active():
            if abs(self._call.getTime() - due) < 1e-6:
                return
            self._call.cancel()
        self._call = self._clock.callLater(delay, self._wake)

    def _wake(self) -> None:
        """
        Pop and fire every due entry, then re-arm.
        """
        self._call = None
        now = self._clock.seconds()
        while self._heap and self._heap[0][0] <= now:
            due, agent = heapq.heappop(self._heap)
            if self._next.get(agent) != due:
                continue
            schedule = self._schedules[agent]
            self._next[agent] = schedule.next_after(max(now, due))
            heapq.heappush(self._heap, (self._next[agent], agent))
            if now - due > MISSED_AFTER:
                self.log.info(
                    "Not catching up {agent}'s run due {late:.0f} s ago",
                    agent=agent,
                    late=now - due,
                )
                continue
            with self.log.failuresHandled(
                "Firing the cron trigger of {agent} failed", agent=agent
            ):
                self._on_due(agent, due)
        self._arm()
