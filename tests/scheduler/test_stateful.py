"""
Random interleavings of everything that can happen to a scheduler, checked
against a model of what the user asked for.

The machine drives a real scheduler over a real store on the reactor; each
rule blocks (``pytest_twisted.blockon``) until the database has answered
everything the step set off, so the invariants see a settled scheduler. A
few rules act twice without waiting in between (triggers arriving together,
a trigger arriving as a run ends), which is where the admission gate's
synchronous reservations matter. The machine runs as a unittest
``TestCase``, which pytest-twisted calls outside the reactor's greenlet, as
``blockon`` requires.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest_twisted
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)
from twisted.internet.defer import Deferred, ensureDeferred

from action_llama.runtime import RunSpec
from action_llama.scheduler import Admission, CallRefused, Trigger
from tests.scheduler.support import (
    EVERY_MINUTE,
    ON_WEBHOOK,
    Harness,
    Kind,
    build_project,
)

T = TypeVar("T")

#: Each agent's config.toml; scales and queue bounds are small so that
#: queues fill, overflow and drain often.
AGENTS = {
    "alpha": "scale = 2\nmaxWorkQueueSize = 2\n" + EVERY_MINUTE,
    "beta": "scale = 1\nmaxWorkQueueSize = 1\n" + EVERY_MINUTE,
    "gamma": "scale = 1\nmaxWorkQueueSize = 3\n" + ON_WEBHOOK,
}
NAMES = sorted(AGENTS)
PROJECT_SCALE = 3
MAX_CALL_DEPTH = 2

agents = st.sampled_from(NAMES)
targets = st.sampled_from([*NAMES, "nobody"])
kinds: st.SearchStrategy[Kind] = st.sampled_from(["webhook", "manual"])
picks = st.integers(min_value=0)

Situation = tuple[Counter[str], Counter[str]]
"""
Runs going and work queued, by agent.
"""


def wait(work: Deferred[T] | Coroutine[Any, Any, T]) -> T:
    """
    Wait for ``work`` on the reactor, blocking this greenlet until it is done.
    """
    result: T = pytest_twisted.blockon(ensureDeferred(work))
    return result


def token_in(context: Mapping[str, Any]) -> int | None:
    """
    The token the machine put in a trigger context (a call's context wraps
    it); ``None`` for a cron run.
    """
    if "caller" in context:
        context = context["context"]
    token: int | None = context.get("token")
    return token


class SchedulerMachine(RuleBasedStateMachine):
    """
    A model of what the user asked for (paused, which agents are enabled,
    what was submitted in which order) beside a real scheduler.
    """

    def __init__(self) -> None:
        super().__init__()
        # On tmpfs where there is one: the machine commits thousands of
        # transactions, and waiting for the disk is not what it tests.
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.directory = Path(tempfile.mkdtemp(prefix="scheduler-machine-", dir=shm))
        config = f"scale = {PROJECT_SCALE}\nmaxCallDepth = {MAX_CALL_DEPTH}\n"
        self.project = build_project(self.directory / "project", AGENTS, config)
        self.harness = Harness(self.project)
        self.harness.runtime.on_start = self.run_starts
        wait(self.harness.start())
        self.paused = False
        self.enabled = dict.fromkeys(NAMES, True)
        self.bounds = {a.name: a.max_work_queue_size for a in self.project.agents}
        self.scales = {a.name: a.scale for a in self.project.agents}
        #: Every non-cron submission, by token (in order): its agent.
        self.submitted: dict[int, str] = {}
        self.refused: set[int] = set()
        self.work_tokens: dict[str, int] = {}
        self.calls: dict[int, str] = {}
        self.violations: list[str] = []

    def teardown(self) -> None:
        """
        Stop the scheduler, close the database and remove the files.
        """
        try:
            wait(self.harness.close())
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def run_starts(self, spec: RunSpec) -> None:
        """
        Note anything wrong about the scheduler starting ``spec`` now.
        """
        agent = spec.agent_name
        live = self.harness.runtime.live()
        if self.paused or self.harness.scheduler.paused:
            self.violations.append(f"{spec.instance_id} started while paused")
        if not self.enabled[agent]:
            self.violations.append(f"{spec.instance_id} started while disabled")
        if len(self.harness.runtime.live(agent)) >= self.scales[agent]:
            self.violations.append(f"{spec.instance_id} started beyond its scale")
        if len(live) >= PROJECT_SCALE:
            self.violations.append(f"{spec.instance_id} started beyond the cap")

    # -- the model ---------------------------------------------------------------

    def situation(self) -> Situation:
        """
        How many runs each agent has now, and how much work it has queued.
        """
        running = Counter(r.spec.agent_name for r in self.harness.runtime.live())
        depths = wait(self.harness.store.queue_depths())
        return running, Counter(depths)

    def predict(self, agent: str, situation: Situation) -> tuple[str, bool]:
        """
        What admitting new work for ``agent`` must do, given the situation
        before it (which it updates): the outcome, and whether it pushes the
        oldest queued item out.
        """
        running, queued = situation
        if not self.enabled.get(agent, False):
            return "refused", False
        free = (
            running[agent] < self.scales[agent]
            and sum(running.values()) < PROJECT_SCALE
        )
        if not self.paused and queued[agent] == 0 and free:
            running[agent] += 1
            return "started", False
        drops = queued[agent] >= self.bounds[agent]
        if not drops:
            queued[agent] += 1
        return "queued", drops

    def new_token(self, agent: str) -> int:
        """
        Number a new submission for ``agent``.
        """
        token = len(self.submitted)
        self.submitted[token] = agent
        return token

    def submit_at_once(
        self, requests: list[tuple[str, Kind]], situation: Situation
    ) -> None:
        """
        Submit every request without waiting in between, then check each
        decision against the model.
        """
        expected = []
        submitted = []
        for agent, kind in requests:
            token = self.new_token(agent)
            expected.append((token, agent, *self.predict(agent, situation)))
            trigger = Trigger(kind, source="machine", context={"token": token})
            submitted.append(self.harness.scheduler.submit(agent, trigger))
        admissions = wait(self.decisions(submitted))
        for (token, agent, outcome, drops), admission in zip(expected, admissions):
            assert (admission.outcome, len(admission.dropped)) == (outcome, drops)
            if admission.outcome == "refused":
                known = agent in AGENTS
                assert admission.reason == (
                    "agent_disabled" if known else "unknown_agent"
                )
                self.refused.add(token)
            if admission.work_id is not None:
                self.work_tokens[admission.work_id] = token

    async def decisions(self, submitted: list[Deferred[Admission]]) -> list[Admission]:
        """
        Wait for every decision, then for what they set off.
        """
        admissions = [await d for d in submitted]
        await self.harness.settle()
        return admissions

    # -- rules -------------------------------------------------------------------

    @rule()
    def pause(self) -> None:
        """
        Someone pauses the scheduler.
        """
        self.paused = True
        self.harness.scheduler.pause()
        wait(self.harness.settle())

    @rule()
    def resume(self) -> None:
        """
        Someone resumes the scheduler.
        """
        self.paused = False
        self.harness.scheduler.resume()
        wait(self.harness.settle())

    @rule(agent=agents)
    def disable(self, agent: str) -> None:
        """
        Someone disables ``agent``.
        """
        self.enabled[agent] = False
        self.harness.scheduler.set_enabled(agent, False)
        wait(self.harness.settle())

    @rule(agent=agents)
    def enable(self, agent: str) -> None:
        """
        Someone enables ``agent``.
        """
        self.enabled[agent] = True
        self.harness.scheduler.set_enabled(agent, True)
        wait(self.harness.settle())

    @rule()
    def cron_tick(self) -> None:
        """
        Time moves on to the next minute, when alpha and beta are due.
        """
        clock = self.harness.clock
        wait(self.harness.advance(60 - clock.seconds() % 60))

    @rule(agent=targets)
    def webhook(self, agent: str) -> None:
        """
        A webhook for ``agent`` arrives.
        """
        self.submit_at_once([(agent, "webhook")], self.situation())

    @rule(agent=targets)
    def manual(self, agent: str) -> None:
        """
        Someone triggers ``agent`` by hand.
        """
        self.submit_at_once([(agent, "manual")], self.situation())

    @rule(requests=st.lists(st.tuples(targets, kinds), min_size=2, max_size=4))
    def burst(self, requests: list[tuple[str, Kind]]) -> None:
        """
        Several triggers arrive together, as a webhook matching many agents.
        """
        self.submit_at_once(requests, self.situation())

    @precondition(lambda self: self.harness.runtime.live())
    @rule(pick=picks, agent=targets, kind=kinds)
    def finish_and_submit_at_once(self, pick: int, agent: str, kind: Kind) -> None:
        """
        A trigger arrives just as a run ends, before its end is recorded.
        """
        running, queued = self.situation()
        live = self.harness.runtime.live()
        run = live[pick % len(live)]
        running[run.spec.agent_name] -= 1
        self.harness.runtime.finish(run.instance_id)
        self.submit_at_once([(agent, kind)], (running, queued))

    @precondition(lambda self: self.harness.runtime.live())
    @rule(pick=picks, callee=targets)
    def call(self, pick: int, callee: str) -> None:
        """
        A live run calls ``callee`` (``al-subagent``).
        """
        live = self.harness.runtime.live()
        caller_run = live[pick % len(live)]
        caller = self.harness.scheduler.instance(caller_run.instance_id)
        assert caller is not None
        token = self.new_token(callee)
        depth = caller_run.trigger["depth"] + 1
        if callee == caller.agent or depth > MAX_CALL_DEPTH:
            outcome = "refused"
        else:
            outcome, _ = self.predict(callee, self.situation())
        try:
            record = wait(self.harness.scheduler.call(caller, callee, {"token": token}))
        except CallRefused:
            assert outcome == "refused"
            self.refused.add(token)
            return
        self.calls[token] = record.call_id
        wait(self.harness.settle())
        waiting = [
            item.work_id
            for item in wait(self.harness.store.queued(callee))
            if item.call_id == record.call_id
        ]
        assert outcome == ("queued" if waiting else "started")
        for work_id in waiting:
            self.work_tokens[work_id] = token

    @precondition(lambda self: self.harness.runtime.live())
    @rule(pick=picks, failed=st.booleans())
    def finish(self, pick: int, failed: bool) -> None:
        """
        A run ends, successfully or not.
        """
        live = self.harness.runtime.live()
        run = live[pick % len(live)]
        if failed:
            wait(self.harness.finish(run.instance_id, 1, "error"))
        else:
            wait(self.harness.finish(run.instance_id))

    @rule()
    def drain(self) -> None:
        """
        Runs end, oldest first, until none is left running.
        """
        for _ in range(100):
            live = self.harness.runtime.live()
            if not live:
                return
            wait(self.harness.finish(live[0].instance_id))
        raise AssertionError("runs kept starting")

    # -- invariants -------------------------------------------------------------

    def queued_tokens(self, agent: str) -> list[int]:
        """
        The tokens of ``agent``'s queued work, oldest first.
        """
        tokens = []
        for item in wait(self.harness.store.queued(agent)):
            token = token_in(item.context)
            assert token is not None, item
            tokens.append(token)
        return tokens

    @invariant()
    def no_run_started_when_it_must_not(self) -> None:
        """
        No run started while paused, disabled, or beyond a scale.
        """
        assert self.violations == []

    @invariant()
    def runs_stay_within_scale(self) -> None:
        """
        Each agent runs at most ``scale`` runs, all agents at most the
        project's, and the snapshot counts them right.
        """
        live = self.harness.runtime.live()
        snapshot = self.harness.scheduler.snapshot()
        assert len(live) <= PROJECT_SCALE
        assert snapshot["schedulerInfo"]["runningCount"] == len(live)
        for entry in snapshot["agents"]:
            count = len(self.harness.runtime.live(entry["name"]))
            assert count <= self.scales[entry["name"]]
            assert entry["runningCount"] == count

    @invariant()
    def no_work_waits_for_a_free_runner(self) -> None:
        """
        Unless paused, an enabled agent's queue is empty whenever it has a
        free runner within the project cap.
        """
        if self.paused:
            return
        depths = wait(self.harness.store.queue_depths())
        running, total = self.situation()[0], len(self.harness.runtime.live())
        for agent in NAMES:
            if self.enabled[agent] and depths.get(agent, 0):
                assert running[agent] == self.scales[agent] or total == PROJECT_SCALE

    @invariant()
    def queue_depth_matches_the_store(self) -> None:
        """
        The snapshot's ``queueDepth`` is what the database holds.
        """
        depths = wait(self.harness.store.queue_depths())
        for entry in self.harness.scheduler.snapshot()["agents"]:
            assert entry["queueDepth"] == depths.get(entry["name"], 0)

    @invariant()
    def every_submission_is_accounted_for_in_order(self) -> None:
        """
        Each submission was started, is queued, was dropped by a full queue or
        was refused, exactly one of them; and each agent's work started and
        queued in the order it came.
        """
        runs = self.harness.runtime.runs
        started = [t for r in runs if (t := token_in(r.trigger["context"])) is not None]
        queued = {agent: self.queued_tokens(agent) for agent in NAMES}
        dropped = {
            self.work_tokens[t.work_id]
            for t in wait(self.harness.triggers())
            if t.result == "dropped" and t.work_id is not None
        }
        held = [t for tokens in queued.values() for t in tokens]
        assert sorted([*started, *held, *dropped, *self.refused]) == list(
            self.submitted
        )
        for agent in NAMES:
            accepted = [
                t
                for t, target in self.submitted.items()
                if target == agent and t not in self.refused and t not in dropped
            ]
            ran = [t for t in started if self.submitted[t] == agent]
            assert ran + queued[agent] == accepted

    @invariant()
    def calls_follow_their_work(self) -> None:
        """
        A call is pending while queued, running while its run goes, completed
        or failed as its run ended, and failed if dropped from the queue.
        """
        runs = {token_in(r.trigger["context"]): r for r in self.harness.runtime.runs}
        held = {t for agent in NAMES for t in self.queued_tokens(agent)}
        for token, call_id in self.calls.items():
            record = wait(self.harness.store.get_call(call_id))
            assert record is not None
            run = runs.get(token)
            if token in held:
                expected = "pending"
            elif run is None:
                expected = "error"
            elif run.exit is None:
                expected = "running"
            else:
                expected = "completed" if run.exit.outcome == "completed" else "error"
            assert record.state == expected, (token, record)


# Hypothesis makes each machine's TestCase class as the machine is defined.
class TestSchedulerMachine(SchedulerMachine.TestCase):  # type: ignore[misc, valid-type]
    """
    Under any interleaving of controls, triggers and run ends, no run starts
    when it must not, runs stay within scale, and no work is lost or
    reordered.
    """

    settings = settings(
        max_examples=100,
        stateful_step_count=50,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
