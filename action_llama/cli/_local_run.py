"""
``al run`` when no gateway is running: one run in this process, without
the scheduler's cron or queue.

The stack is the service's own parts, put together as ``makeService`` does:
the project database behind the project lock (so no service can start on
the project meanwhile), the scheduler's admission and run bookkeeping with
the real ``ProcessRuntime``, the per-agent log, and the gateway's run routes on a
free port of 127.0.0.1 for the run's agent commands. The scheduler service
itself is never started: that would arm the cron and drain the queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.application.service import MultiService
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred

from ..config import ProjectConfig
from ..credentials import CredentialStore
from ..events import Event
from ..gateway import GatewaySite, build_run_root
from ..scheduler import Scheduler, Trigger
from ..service import (
    Core,
    GatewayService,
    ProjectInUse,
    SequentialMultiService,
    StoreService,
    build_core,
)
from ..store import RunRecord
from ._client import GATEWAY_URL_ENV
from ._common import CLIError

OnRecord = Callable[[dict[str, Any]], None]


class LocalRun:
    """
    One run of an agent in this process.

    Stopping the reactor meanwhile (Ctrl-C) kills the run, and the reactor's
    shutdown waits until the run is recorded and the stack has stopped.

    The stack's own log events go wherever the process's log goes; ``al
    run`` sends them to the project's scheduler log, as the service would.

    :param reactor: provides time, TCP, processes and threads.
    :param project: the project.
    :param agent: the agent to run; the project must have it.
    :param on_record: called with each record of the agent's log as it is
        written.
    :param trigger: why the run starts; a manual trigger from the CLI if
        not given.
    """

    def __init__(
        self,
        reactor: Any,
        project: ProjectConfig,
        agent: str,
        on_record: OnRecord,
        trigger: Trigger | None = None,
    ) -> None:
        self._reactor = reactor
        self._project = project
        self._agent = agent
        self._trigger = trigger or Trigger("manual", source="cli")
        self._on_record = on_record
        self._scheduler: Scheduler | None = None
        self._interrupted = False
        self._done: Deferred[None] = Deferred()

    async def run(self) -> RunRecord:
        """
        Run the agent once and give its recorded run.

        :raises CLIError: if the project is in use by a service, its
            database cannot be opened, the agent refuses the run, or the
            reactor stopped before the run began.
        """
        self._reactor.addSystemEventTrigger("before", "shutdown", self._interrupt)
        core = build_core(
            self._project, self._reactor, CredentialStore(), self._reactor
        )
        top = SequentialMultiService()
        core.store.setServiceParent(top)
        top.startService()
        try:
            await _ready(core.store)
            return await self._run_with_store(core, top)
        finally:
            try:
                await top.stopService()
            finally:
                self._done.callback(None)

    def _interrupt(self) -> Deferred[None]:
        """
        The reactor is stopping: kill the run, and hold the shutdown until
        the run is recorded and the stack has stopped.
        """
        self._interrupted = True
        if self._scheduler is not None:
            self._scheduler.kill_agent(self._agent)
        return self._done

    async def _run_with_store(self, core: Core, top: MultiService) -> RunRecord:
        """
        With the project database open: serve the run routes, start the run,
        and wait until it has ended and been recorded.
        """
        reactor = self._reactor
        scheduler, events, logs = core.scheduler, core.events, core.logs
        site = GatewaySite(build_run_root(reactor, scheduler))
        gateway = GatewayService(reactor, site, 0, "127.0.0.1")
        gateway.setServiceParent(top)
        address = (await gateway.when_listening()).getHost()
        assert isinstance(address, IPv4Address)
        scheduler.gateway_url = f"http://127.0.0.1:{address.port}"
        if self._interrupted:
            raise CLIError(f"interrupted before {self._agent} started")
        self._scheduler = scheduler
        unsubscribe = events.subscribe(
            "log", lambda event: self._on_record(event.data["record"])
        )
        try:
            return await _one_run(scheduler, self._agent, self._trigger)
        finally:
            unsubscribe()
            logs.close()


async def _ready(store: StoreService) -> None:
    """
    Wait for the project lock and the database.

    :raises CLIError: saying why they cannot be had.
    """
    try:
        await store.when_ready()
    except ProjectInUse as e:
        raise CLIError(
            f"{e}; if its gateway listens on another port, set {GATEWAY_URL_ENV}"
        ) from None
    except Exception as e:
        raise CLIError(f"cannot open the project database: {e}") from None


async def _one_run(scheduler: Scheduler, agent: str, trigger: Trigger) -> RunRecord:
    """
    Start one run of ``agent`` for ``trigger`` and give its record once it
    has ended.
    """
    instance_id: str | None = None
    ended: Deferred[None] = Deferred()

    def look(event: Event | None = None) -> None:
        # An instance leaves the scheduler only after its end was handed to
        # the store, so a read submitted after that sees the outcome.
        if (
            instance_id is not None
            and scheduler.instance(instance_id) is None
            and not ended.called
        ):
            ended.callback(None)

    unsubscribe = scheduler.events.subscribe("state", look)
    try:
        admission = await scheduler.submit(agent, trigger)
        if admission.instance_id is None:
            reason = admission.reason or admission.outcome
            if reason == "agent_disabled":
                raise CLIError(f"{agent} is disabled (its scale is 0)")
            raise CLIError(f"{agent} did not start: {reason}")
        instance_id = admission.instance_id
        look()
        await ended
    finally:
        unsubscribe()
    run = await scheduler.store.get_run(instance_id)
    assert run is not None, f"run {instance_id} was not recorded"
    return run
