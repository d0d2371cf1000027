"""
A running project for the integration tests of the scheduler and its runs:
write a small project of script agents, start the whole service on the real
reactor with the gateway on 127.0.0.1, drive it through the HTTP control API
with the Bearer key, and await what happens through the service's own
events, each wait bounded by a timeout that fails the test with a clear
message.

Hooks that must hold a run open wait on a `Gate`: a FIFO the test writes one
line into per run it lets go, so the test, not a sleep, decides when a run
moves on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import treq
from attrs import define, field
from twisted.application.service import MultiService
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from action_llama.config import load_project
from action_llama.credentials import CredentialStore
from action_llama.events import Event
from action_llama.scheduler import Scheduler
from action_llama.service import ServiceOptions, makeService
from action_llama.store import RunRecord

T = TypeVar("T")

#: A schedule that fires once a year, for agents that only run on demand
#: (every agent needs a schedule or a webhook unless its scale is 0).
YEARLY = "0 0 1 1 *"

#: Seconds any one wait of a test may take before it fails.
WAIT = 8.0


def within(
    d: Deferred[T], what: str, timeout: float = WAIT, clock: Any = reactor
) -> Deferred[T]:
    """
    Follow ``d`` without touching it, failing if it has not fired in time.

    :param d: what to wait for; it is never cancelled, so Deferreds that
        belong to the service may be passed.
    :param what: what is awaited, for the failure message.
    :returns: a new Deferred that fires with ``d``'s result, or fails with
        ``AssertionError`` after ``timeout`` seconds.
    """
    result: Deferred[T] = Deferred()

    def give_up() -> None:
        result.errback(AssertionError(f"timed out after {timeout:g} s: {what}"))

    timer = IReactorTime(clock).callLater(timeout, give_up)

    def settled(outcome: Any) -> Any:
        if timer.active():
            timer.cancel()
            if isinstance(outcome, Failure):
                result.errback(outcome)
            else:
                result.callback(outcome)
        return outcome

    d.addBoth(settled)
    return result


def toml_value(value: Any) -> str:
    """
    A Python value as TOML: strings, numbers, booleans and lists of them.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def write_project(
    root: Path,
    agents: Mapping[str, Mapping[str, Any]],
    project: Mapping[str, Any] | None = None,
) -> Path:
    """
    Write a project of script agents (no ``models``).

    :param agents: agent name to its settings: ``pre`` and ``post`` hook
        lists, and any top-level ``config.toml`` key (``scale``,
        ``timeout``, ...); ``schedule`` defaults to `YEARLY`.
    :param project: top-level keys of the project's ``config.toml``.
    :returns: ``root``.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(
        "".join(f"{k} = {toml_value(v)}\n" for k, v in (project or {}).items())
    )
    for name, settings in agents.items():
        directory = root / "agents" / name
        directory.mkdir(parents=True)
        (directory / "SKILL.md").write_text(
            f"---\ndescription: {name} for a test\n---\nA script agent.\n"
        )
        top = {"schedule": YEARLY} | {
            k: v for k, v in settings.items() if k not in ("pre", "post")
        }
        lines = [f"{k} = {toml_value(v)}" for k, v in top.items()]
        lines.append("\n[hooks]")
        for phase in ("pre", "post"):
            if phase in settings:
                lines.append(f"{phase} = {toml_value(settings[phase])}")
        (directory / "config.toml").write_text("\n".join(lines) + "\n")
    return root


class Gate:
    """
    A FIFO that hooks wait on (``read -r _ < <gate>``) until the test lets
    them through, one line per run.

    The test holds the FIFO open for reading and writing, so opening it never
    blocks the reactor and a line written before a hook gets there waits for
    it in the pipe.
    """

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)

    @property
    def wait(self) -> str:
        """
        The shell command that waits at this gate.
        """
        return f"read -r _ < {self.path}"

    def release(self, runs: int = 1) -> None:
        """
        Let ``runs`` waiting (or future) hooks through.
        """
        os.write(self._fd, b"go\n" * runs)

    def close(self) -> None:
        """
        Close the test's end; a hook still waiting then reads end of file.
        """
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@define
class RunningProject:
    """
    The service on a project (started by `listening`), and the ways a test
    drives and watches it.

    :ivar logs: every agent log record written since the service started.
    """

    root: Path
    service: MultiService
    scheduler: Scheduler
    base_url: str
    key: str
    logs: list[dict[str, Any]] = field(factory=list)
    _log_waiters: list[tuple[Callable[[dict[str, Any]], bool], Deferred[Any]]] = field(
        factory=list
    )

    def _log_written(self, event: Event) -> None:
        record = event.data["record"]
        self.logs.append(record)
        for waiter in list(self._log_waiters):
            predicate, d = waiter
            if predicate(record):
                self._log_waiters.remove(waiter)
                d.callback(record)

    async def request(
        self, method: str, path: str, body: Any = None
    ) -> tuple[int, Any]:
        """
        Send an authenticated request to the gateway.

        :returns: the status code and the decoded JSON body.
        """
        kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {self.key}"}}
        if body is not None:
            kwargs["json"] = body
        response = await within(
            treq.request(method, self.base_url + path, **kwargs),
            f"{method} {path}",
        )
        return response.code, await response.json()

    async def trigger(
        self, agent: str, context: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """
        ``POST /control/trigger/<agent>`` with ``context``, which must be
        accepted.

        :returns: the answer (``outcome`` ``started`` or ``queued``).
        """
        body = {"context": dict(context)} if context is not None else None
        code, answer = await self.request("POST", f"/control/trigger/{agent}", body)
        assert code == 200, answer
        return dict(answer)

    async def start(self, agent: str, context: Mapping[str, Any] | None = None) -> str:
        """
        Trigger ``agent``, which must start at once.

        :returns: the new run's instance id.
        """
        answer = await self.trigger(agent, context)
        assert answer["outcome"] == "started", answer
        return str(answer["instanceId"])

    async def ended(self, instance_id: str, timeout: float = WAIT) -> RunRecord:
        """
        Wait until the run ``instance_id`` has ended and been recorded.

        :returns: its record.
        """
        instance = self.scheduler.instance(instance_id)
        if instance is not None and instance.ended is not None:
            await within(instance.ended, f"run {instance_id} to end", timeout)
        record = await self.scheduler.store.get_run(instance_id)
        assert record is not None, f"no record of run {instance_id}"
        return record

    async def until(
        self,
        predicate: Callable[[], bool],
        what: str,
        timeout: float = WAIT,
    ) -> None:
        """
        Wait until ``predicate()`` holds, checking now and after every
        change of state the scheduler publishes.
        """
        if predicate():
            return
        d: Deferred[None] = Deferred()

        def changed(event: Event) -> None:
            if not d.called and predicate():
                d.callback(None)

        unsubscribe = self.scheduler.events.subscribe("state", changed)
        try:
            await within(d, what, timeout)
        finally:
            unsubscribe()

    async def until_locks(
        self, predicate: Callable[[list[str]], bool], what: str
    ) -> None:
        """
        Wait until ``predicate`` holds for the keys of the locks held,
        checking now and after every change to the lock table.
        """

        def keys() -> list[str]:
            return [lock.key for lock in self.scheduler.locks.active()]

        if predicate(keys()):
            return
        d: Deferred[None] = Deferred()

        def changed() -> None:
            if not d.called and predicate(keys()):
                d.callback(None)

        # The table has no way to remove a listener; it lives only as long
        # as this service does, and the listener is idle once ``d`` fired.
        self.scheduler.locks.add_listener(changed)
        await within(d, what)

    def agent(self, name: str) -> dict[str, Any]:
        """
        ``name``'s entry in the status snapshot.
        """
        [entry] = [a for a in self.scheduler.snapshot()["agents"] if a["name"] == name]
        return dict(entry)

    def idle(self, name: str) -> bool:
        """
        Whether ``name`` has nothing running and nothing queued.
        """
        entry = self.agent(name)
        return bool(entry["runningCount"] == 0 and entry["queueDepth"] == 0)

    async def log_line(
        self, predicate: Callable[[dict[str, Any]], bool], what: str
    ) -> dict[str, Any]:
        """
        The first agent log record, written so far or to come, for which
        ``predicate`` holds.
        """
        for record in self.logs:
            if predicate(record):
                return record
        d: Deferred[dict[str, Any]] = Deferred()
        self._log_waiters.append((predicate, d))
        return await within(d, what)

    def messages(self, instance_id: str) -> list[str]:
        """
        The messages of one run's log records so far, in order.
        """
        return [r["message"] for r in self.logs if r["instance"] == instance_id]

    def printed(self, instance_id: str) -> list[dict[str, Any]]:
        """
        The JSON objects one run's hooks printed (the answers of the agent
        commands among them), in order.
        """
        return [json.loads(m) for m in self.messages(instance_id) if m.startswith("{")]

    async def stop(self) -> None:
        """
        Kill whatever still runs, then stop the service.
        """
        for name in self.scheduler.agent_names():
            self.scheduler.kill_agent(name)
        await within(self.service.stopService(), "the service to stop", 15)


def project_service(root: Path) -> RunningProject:
    """
    Build (but do not start) the whole service on the project at ``root``,
    with the gateway on a free port; its log records are collected from the
    start.
    """
    service = makeService(ServiceOptions(load_project(root), port=0), reactor)
    scheduler = service.getServiceNamed("scheduler")
    running = RunningProject(
        root=root,
        service=service,
        scheduler=scheduler,
        base_url="",
        key=CredentialStore().gateway_key() or "",
    )
    scheduler.events.subscribe("log", running._log_written)
    return running


async def listening(running: RunningProject) -> RunningProject:
    """
    Start the service and wait until its gateway listens.

    :returns: ``running``, with its ``base_url`` set.
    """
    running.service.startService()
    port = await within(
        running.service.getServiceNamed("gateway").when_listening(),
        "the gateway to listen",
    )
    running.base_url = f"http://127.0.0.1:{port.getHost().port}"
    return running


async def start_project(
    root: Path,
    agents: Mapping[str, Mapping[str, Any]],
    project: Mapping[str, Any] | None = None,
) -> RunningProject:
    """
    Write a project, then start the whole service on it on a free port.

    :returns: the running project, once the gateway listens and the
        scheduler is ready.
    """
    running = await listening(project_service(write_project(root, agents, project)))
    await within(running.scheduler.ready, "the scheduler to be ready")
    return running


async def stop_all(projects: Sequence[RunningProject], gates: Sequence[Gate]) -> None:
    """
    Stop every project a test started and close its gates.
    """
    for gate in gates:
        gate.close()
    await DeferredList(
        [Deferred.fromCoroutine(p.stop()) for p in projects], consumeErrors=False
    )
