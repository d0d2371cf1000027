"""
What the scheduler tests share: a runtime whose runs end when the test says
so, a database that knows when it is idle, small projects written to disk,
and a whole scheduler service over a real SQLite file.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from twisted.internet import reactor as _global_reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.task import Clock
from zope.interface import implementer

from action_llama.config import ProjectConfig, load_project
from action_llama.events import EventHub
from action_llama.locks import LockTable
from action_llama.logs import AgentLogs
from action_llama.runtime import IRunHandle, IRuntime, LogLine, RunExit, RunSpec
from action_llama.scheduler import Admission, Scheduler, Trigger
from action_llama.store import Database, Operation, Store, TriggerRecord
from tests.config.builders import write_agent, write_project

reactor = IReactorFromThreads(_global_reactor)
"""
The running reactor, which delivers the database's results.
"""

Outcome = Literal["completed", "error", "timeout", "killed"]
Kind = Literal["webhook", "manual", "agent-call", "replay"]

#: An agent that fires every minute.
EVERY_MINUTE = 'schedule = "* * * * *"\n'

#: An agent started only by webhooks, triggers and calls.
ON_WEBHOOK = '[[webhooks]]\nsource = "github"\n'

_pids = itertools.count(1000)


@implementer(IRunHandle)
class ControlledRun:
    """
    A run that ends only when the test ends it.

    :ivar spec: what the scheduler asked to start.
    :ivar exit: how it ended, once it has.
    """

    def __init__(self, spec: RunSpec, on_line: Callable[[LogLine], None]) -> None:
        self.spec = spec
        self.on_line = on_line
        self.pid = next(_pids)
        self.finished: Deferred[RunExit] = Deferred()
        self.exit: RunExit | None = None

    @property
    def instance_id(self) -> str:
        """
        The run's instance id.
        """
        return self.spec.instance_id

    @property
    def trigger(self) -> Mapping[str, Any]:
        """
        The trigger block of the run file.
        """
        trigger: Mapping[str, Any] = self.spec.run_file["trigger"]
        return trigger

    def end(self, result: RunExit) -> None:
        """
        End the run with ``result``, unless it has ended already.
        """
        if self.exit is None:
            self.exit = result
            self.finished.callback(result)

    def kill(self) -> Deferred[RunExit]:
        """
        End the run as ``killed``.
        """
        self.end(RunExit(137, "killed", "killed on request"))
        assert self.exit is not None
        return succeed(self.exit)


@implementer(IRuntime)
class ControlledRuntime:
    """
    Records every run the scheduler starts; the test ends them.

    :param on_start: called with each spec as its run starts, before the
        handle is returned, to check what must hold whenever a run starts.
    :ivar runs: every run ever started, in order.
    """

    def __init__(self, on_start: Callable[[RunSpec], None] | None = None) -> None:
        self.on_start = on_start
        self.runs: list[ControlledRun] = []

    def start(self, spec: RunSpec, on_line: Callable[[LogLine], None]) -> IRunHandle:
        """
        Start ``spec``: record it and hand back a run that does not end yet.
        """
        if self.on_start is not None:
            self.on_start(spec)
        run = ControlledRun(spec, on_line)
        self.runs.append(run)
        return run

    def live(self, agent: str | None = None) -> list[ControlledRun]:
        """
        The runs that have not ended, oldest first, of ``agent`` if given.
        """
        return [
            run
            for run in self.runs
            if run.exit is None and agent in (None, run.spec.agent_name)
        ]

    def started(self, agent: str | None = None) -> list[ControlledRun]:
        """
        Every run started, oldest first, of ``agent`` if given.
        """
        return [run for run in self.runs if agent in (None, run.spec.agent_name)]

    def run(self, instance_id: str) -> ControlledRun:
        """
        The run with ``instance_id``.

        :raises KeyError: if no such run was started.
        """
        for run in self.runs:
            if run.instance_id == instance_id:
                return run
        raise KeyError(instance_id)

    def finish(
        self, instance_id: str, exit_code: int = 0, outcome: Outcome = "completed"
    ) -> None:
        """
        End a run as ``outcome`` with ``exit_code``.
        """
        reason = None if outcome == "completed" else f"ended as {outcome} by the test"
        self.run(instance_id).end(RunExit(exit_code, outcome, reason))


class TrackedDatabase(Database):
    """
    A `Database` that counts the operations it has not answered yet, so a
    test can wait until the scheduler's background work is over.
    """

    #: Operations submitted and not answered yet.
    pending = 0

    def run(self, operation: Operation[Any]) -> Deferred[Any]:
        """
        Submit ``operation``, counting it until it is answered.
        """
        d = super().run(operation)
        self.pending += 1
        d.addBoth(self._answered)
        return d

    def _answered(self, result: object) -> object:
        self.pending -= 1
        return result


def build_project(
    root: Path, agents: Mapping[str, str], config: str = ""
) -> ProjectConfig:
    """
    Write and load a project.

    :param root: the project directory.
    :param agents: each agent's ``config.toml``, by name.
    :param config: top-level settings for ``config.toml``; a ``github``
        webhook source is always declared.
    """
    write_project(root, config + '\n[webhooks.github]\ntype = "github"\n')
    for name, agent_config in agents.items():
        write_agent(root, name, agent_config)
    project = load_project(root)
    assert not project.warnings, project.warnings
    project.state_dir.mkdir(parents=True, exist_ok=True)
    return project


def db_path(project: ProjectConfig) -> Path:
    """
    Where a project's database lives.
    """
    return project.state_dir / "action-llama.db"


class Harness:
    """
    A scheduler over a real store on the project's database file, a
    `ControlledRuntime` and a `Clock`, wired as ``service.makeService`` does.

    :ivar clock: the scheduler's clock (the database runs on the reactor).
    """

    def __init__(
        self,
        project: ProjectConfig,
        clock: Clock | None = None,
        runtime: ControlledRuntime | None = None,
    ) -> None:
        self.project = project
        self.clock = clock if clock is not None else Clock()
        self.runtime = runtime if runtime is not None else ControlledRuntime()
        self.db = TrackedDatabase(db_path(project), reactor)
        self.store = Store(self.db)
        self.events = EventHub()
        self.logs = AgentLogs(project.state_dir / "logs", self.events, self.clock)
        self.locks = LockTable(self.clock, project.resource_lock_timeout)
        self.scheduler = Scheduler(
            project,
            self.store,
            self.runtime,
            self.clock,
            self.events,
            self.logs,
            self.locks,
            gateway_url="http://127.0.0.1:8080",
        )
        self._closed = False

    async def start(self) -> Harness:
        """
        Open the database and start the scheduler.

        :returns: this harness, once the scheduler has recovered and drained.
        """
        await self.db.start()
        self.scheduler.startService()
        await self.scheduler.ready
        await self.settle()
        return self

    async def settle(self) -> None:
        """
        Wait until every database operation the scheduler started, and every
        one those led to, has been answered.

        The writer thread answers operations in the order they came, and the
        scheduler reacts to an answer before the next is delivered; so once a
        probe submitted last is answered, all before it have been, and if
        none was submitted meanwhile the scheduler is idle.
        """
        while self.db.pending:
            await self.db.run(lambda conn: None)

    async def submit(
        self, agent: str, kind: Kind = "manual", **context: Any
    ) -> Admission:
        """
        Submit a trigger of ``kind`` whose context is ``context``, and wait for
        everything it set off.
        """
        admission = await self.scheduler.submit(
            agent, Trigger(kind, source="test", context=context)
        )
        await self.settle()
        return admission

    async def finish(
        self, instance_id: str, exit_code: int = 0, outcome: Outcome = "completed"
    ) -> None:
        """
        End a run and wait for the scheduler to record it and follow up.
        """
        self.runtime.finish(instance_id, exit_code, outcome)
        await self.settle()

    async def advance(self, seconds: float) -> None:
        """
        Move the scheduler's clock on and wait for what that set off.
        """
        self.clock.advance(seconds)
        await self.settle()

    async def triggers(self) -> list[TriggerRecord]:
        """
        The whole trigger history, oldest first.
        """
        records, _ = await self.store.list_triggers(1, 10_000)
        return sorted(records, key=lambda r: r.id)

    async def queued_contexts(self, agent: str) -> list[dict[str, Any]]:
        """
        The contexts of ``agent``'s queued work, oldest first.
        """
        return [item.context for item in await self.store.queued(agent)]

    async def close(self, kill: bool = True) -> None:
        """
        Stop the scheduler and close the database; harmless if done already.

        :param kill: end runs still going, so the stop does not wait forever.
        """
        if self._closed:
            return
        self._closed = True
        if self.scheduler.running:
            stopped = self.scheduler.stopService()
            if kill:
                for run in self.runtime.live():
                    run.kill()
            await stopped
        await self.settle()
        self.logs.close()
        await self.db.close()


class OpenHarness(Protocol):
    """
    The ``open_harness`` fixture: start a `Harness`, closed after the test.
    """

    def __call__(
        self,
        project: ProjectConfig,
        clock: Clock | None = None,
        runtime: ControlledRuntime | None = None,
    ) -> Awaitable[Harness]: ...


def agent_of(snapshot: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """
    The entry of agent ``name`` in a status snapshot.
    """
    for agent in snapshot["agents"]:
        if agent["name"] == name:
            entry: Mapping[str, Any] = agent
            return entry
    raise KeyError(name)
