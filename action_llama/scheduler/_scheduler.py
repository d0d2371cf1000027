"""
The scheduler: one admission gate for every way work can start, runner
pools, the durable work queue, runs from start to recorded end, reruns,
calls between agents, and the state everybody reads.

Every decision is made synchronously in the reactor thread on in-memory
state (runner slots are reserved before any I/O), and then made durable in
the store; so two triggers arriving together can never both take the last
free runner. The database keeps the queue, the run history and the calls;
the in-memory state is rebuilt from it on start.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, ensureDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from .. import __version__
from ..config import AgentConfig, ProjectConfig
from ..credentials import PROVIDER_KEY_TYPES, parse_ref
from ..cron import CronSchedule
from ..events import EventHub
from ..locks import LockTable
from ..logs import AgentLogs, iso_time
from ..once import Once
from ..runtime import IRuntime, LogLine, RunExit, RunSpec
from ..store import CallRecord, NewRun, NewWork, Operation, Store, WorkItem
from ._cron import CronTimer
from ._model import Admission, AgentState, Instance, Trigger

#: A work item that was leased this many times by services that then died
#: is quarantined rather than tried again.
MAX_LEASE_ATTEMPTS = 3


class CallRefused(Exception):
    """
    An ``al-subagent`` call that cannot be made; the message says why.
    """


class Scheduler(Service):
    """
    Runs a project's agents.

    :param project: the validated project.
    :param store: the started project database.
    :param runtime: starts runs.
    :param clock: all timing comes from it.
    :param events: where state changes are published (topic ``state``).
    :param logs: the per-agent logs.
    :param locks: the resource lock table runs use.
    :param gateway_url: how runs reach the gateway; may be set after
        construction, once the gateway's port is known.
    :param store_ready: gives a Deferred that fires once the store can be
        used; the scheduler waits for it before anything else.
    """

    log = Logger()

    def __init__(
        self,
        project: ProjectConfig,
        store: Store,
        runtime: IRuntime,
        clock: IReactorTime,
        events: EventHub,
        logs: AgentLogs,
        locks: LockTable,
        gateway_url: str = "",
        store_ready: Callable[[], Deferred[None]] = lambda: succeed(None),
    ) -> None:
        self.project = project
        self._store_ready = store_ready
        self.store = store
        self.runtime = runtime
        self.clock = clock
        self.events = events
        self.logs = logs
        self.locks = locks
        self.gateway_url = gateway_url
        self.paused = False
        self.stopping = False
        self.started_at = clock.seconds()
        self._ready: Once[None] = Once()
        self._agents: dict[str, AgentState] = {}
        self._secrets: dict[str, Instance] = {}
        self._instances: dict[str, Instance] = {}
        self._total_running = 0
        self._draining = False
        self._taking: set[Deferred[None]] = set()
        self._cron = CronTimer(clock, self._cron_due)
        for agent in project.agents:
            schedule = (
                CronSchedule.parse(agent.schedule, agent.timezone, agent.name)
                if agent.schedule
                else None
            )
            self._agents[agent.name] = AgentState(
                agent, schedule, enabled=agent.scale > 0
            )

    # -- lifecycle ---------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        d = ensureDeferred(self._recover())
        d.addErrback(self._could_not_start)
        self._ready.follow(d)

    @property
    def ready(self) -> Deferred[None]:
        """
        A new Deferred that fires once the scheduler has rebuilt its state
        from the database and started its cron timer, or fails with the
        reason it could not.
        """
        return self._ready.wait()

    def _could_not_start(self, failure: Failure) -> Failure:
        self.log.failure("The scheduler could not start", failure)
        return failure

    async def _recover(self) -> None:
        """
        Rebuild state from the database, then start the cron timer and drain
        whatever was queued before the last stop.
        """
        await self._store_ready()
        now = self.clock.seconds()
        for run in await self.store.mark_lost_runs(now):
            self.log.warn(
                "Run {instance} of {agent} was in flight when the service "
                "stopped; recorded as lost",
                instance=run.instance_id,
                agent=run.agent,
            )
        for item in await self.store.recover_leases(now, MAX_LEASE_ATTEMPTS):
            self.log.warn(
                "Queued work {work} for {agent} was being started when the "
                "service died {attempts} times; quarantined as a dead letter",
                work=item.work_id,
                agent=item.agent,
                attempts=item.attempts,
            )
        depths = await self.store.queue_depths()
        for run in await self.store.list_runs(limit=max(50, 4 * len(self._agents))):
            state = self._agents.get(run.agent)
            if state is not None and state.last_run_at is None:
                state.last_run_at = run.started_at
                state.last_duration = run.duration
                state.last_result = run.outcome
        for name, depth in depths.items():
            if name in self._agents:
                self._agents[name].queued = depth
            else:
                self.log.warn(
                    "{count} queued item(s) for agent {agent}, which the project "
                    "no longer has, stay in the database",
                    count=depth,
                    agent=name,
                )
        if self.stopping:
            return
        for state in self._agents.values():
            if state.schedule is not None:
                self._cron.set_schedule(state.name, state.schedule)
        self._cron.start()
        self._changed()
        self._drain()

    def stopService(self) -> Deferred[None]:
        """
        Stop gracefully: no new runs; queued work stays on disk; runs in
        flight finish (bounded by their timeouts).

        :returns: a Deferred that fires once start-up work is over, every
            item being taken from the queue has been started or put back,
            and every run has ended and been recorded.
        """
        super().stopService()
        self.stopping = True
        self._cron.stop()
        self._changed()
        return ensureDeferred(self._wind_down())

    async def _wind_down(self) -> None:
        await DeferredList([self.ready], consumeErrors=True)
        self._cron.stop()
        await DeferredList(list(self._taking), consumeErrors=True)
        waiting = [i.ended for i in self._instances.values() if i.ended is not None]
        if waiting:
            self.log.info("Waiting for {count} run(s) to finish", count=len(waiting))
        await DeferredList(waiting, consumeErrors=True)

    # -- the admission gate -------------------------------------------------

    def submit(
        self,
        agent: str,
        trigger: Trigger,
        before: Operation[object] | None = None,
    ) -> Deferred[Admission]:
        """
        The one way work starts: apply pause, disable, scale and queue limits
        to ``trigger`` for ``agent``, then start a run or queue the work.

        :param before: a write to commit in the same transaction as the run's
            start or the queued work (the webhook receipt behind it); if it
            raises, nothing starts or queues and the Deferred fails with its
            exception. A refused trigger writes nothing, ``before`` included.
        :returns: a Deferred that fires with the decision once it is durable
            (the run recorded as started, or the work stored in the queue).
            It fails only if the database (or ``before``) does.
        """
        state = self._agents.get(agent)
        if state is None:
            return succeed(Admission("refused", agent, reason="unknown_agent"))
        if not state.enabled:
            return succeed(Admission("refused", agent, reason="agent_disabled"))
        if trigger.is_scheduled:
            if self.paused or self.stopping:
                reason = "stopping" if self.stopping else "paused"
                return succeed(Admission("refused", agent, reason=reason))
            if not self._has_runner(state):
                return ensureDeferred(self._skip(state, trigger))
            return self._start(state, trigger)
        if self._can_start_now(state):
            return self._start(state, trigger, before=before)
        return ensureDeferred(self._enqueue(state, trigger, before))

    def _has_runner(self, state: AgentState) -> bool:
        """
        Whether a runner of ``state``'s agent is free within the project cap.
        """
        cap = self.project.scale
        if cap is not None and self._total_running >= cap:
            return False
        return len(state.running) < state.config.scale

    def _can_start_now(self, state: AgentState) -> bool:
        """
        Whether new work may start at once rather than wait in the queue:
        the scheduler runs, a runner is free, and nothing is queued ahead.
        """
        return (
            not self.paused
            and not self.stopping
            and state.queued == 0
            and self._has_runner(state)
        )

    async def _skip(self, state: AgentState, trigger: Trigger) -> Admission:
        """
        Record a scheduled tick that found no free runner.
        """
        await self.store.record_trigger(
            self.clock.seconds(), trigger.kind, trigger.source, state.name, "skipped"
        )
        self.logs.write(
            state.name, None, "warn", "Scheduled run skipped: every runner is busy"
        )
        return Admission("skipped", state.name, reason="busy")

    async def _enqueue(
        self,
        state: AgentState,
        trigger: Trigger,
        before: Operation[object] | None = None,
    ) -> Admission:
        """
        Store ``trigger`` at the end of the agent's queue, dropping the
        oldest items beyond its bound.
        """
        item = NewWork(
            agent=state.name,
            trigger_type=trigger.kind,
            enqueued_at=self.clock.seconds(),
            trigger_source=trigger.source,
            context=dict(trigger.context),
            call_id=trigger.call_id,
            depth=trigger.depth,
            receipt_id=trigger.receipt_id,
        )
        state.queued += 1
        try:
            result = await self.store.enqueue(
                item, state.config.max_work_queue_size, before
            )
        except BaseException:
            state.queued -= 1
            raise
        state.queued -= len(result.dropped)
        for dropped in result.dropped:
            self.logs.write(
                state.name,
                None,
                "warn",
                f"Queue full: dropped the oldest queued {dropped.trigger_type} "
                f"work {dropped.work_id}",
            )
            if dropped.call_id:
                await self.store.update_call(
                    dropped.call_id, "error", self.clock.seconds()
                )
        self._changed()
        self._drain()
        dropped_ids = tuple(d.work_id for d in result.dropped)
        if result.work_id in dropped_ids:
            return Admission("refused", state.name, reason="queue_full")
        return Admission(
            "queued", state.name, work_id=result.work_id, dropped=dropped_ids
        )

    # -- starting and ending runs ------------------------------------------

    def _reserve(self, state: AgentState, trigger: Trigger) -> Instance:
        """
        Take a runner slot for a new run, synchronously.
        """
        instance = Instance(
            id=f"{state.name}-{secrets.token_hex(4)}",
            agent=state.name,
            secret=secrets.token_urlsafe(24),
            trigger=trigger,
            started_at=self.clock.seconds(),
        )
        state.running[instance.id] = instance
        self._instances[instance.id] = instance
        self._secrets[instance.secret] = instance
        self._total_running += 1
        return instance

    def _unreserve(self, state: AgentState, instance: Instance) -> None:
        """
        Give back a runner slot whose run never started.
        """
        state.running.pop(instance.id, None)
        self._instances.pop(instance.id, None)
        self._secrets.pop(instance.secret, None)
        self._total_running -= 1

    def _start(
        self,
        state: AgentState,
        trigger: Trigger,
        item: WorkItem | None = None,
        before: Operation[object] | None = None,
    ) -> Deferred[Admission]:
        """
        Reserve a runner now, then record the run and start its process.
        """
        instance = self._reserve(state, trigger)
        instance.ended = Deferred()
        return ensureDeferred(self._launch(state, instance, item, before))

    async def _launch(
        self,
        state: AgentState,
        instance: Instance,
        item: WorkItem | None,
        before: Operation[object] | None = None,
    ) -> Admission:
        trigger = instance.trigger
        try:
            run = NewRun(
                instance_id=instance.id,
                agent=state.name,
                trigger_type=trigger.kind,
                started_at=instance.started_at,
                trigger_source=trigger.source,
                context=dict(trigger.context),
                call_id=trigger.call_id,
                receipt_id=trigger.receipt_id,
            )
            await self.store.start_run(
                run,
                trigger_id=item.trigger_id if item else None,
                work_id=item.work_id if item else None,
                before=before,
            )
        except BaseException:
            self._unreserve(state, instance)
            assert instance.ended is not None
            instance.ended.callback(None)
            self._changed()
            raise
        # The call is marked running before the run can end, but the run does
        # not wait for that write: queued work starts in the order it came.
        call_running = (
            self.store.update_call(
                trigger.call_id,
                "running",
                self.clock.seconds(),
                instance_id=instance.id,
            )
            if trigger.call_id
            else succeed(None)
        )
        self.logs.write(
            state.name,
            instance.id,
            "info",
            f"Run started ({trigger.kind}"
            + (f" from {trigger.source}" if trigger.source else "")
            + ")",
        )
        self.log.info(
            "{instance} started ({kind})",
            instance=instance.id,
            agent=state.name,
            kind=trigger.kind,
        )
        handle = self.runtime.start(
            self._spec(state.config, instance), self._on_line(instance)
        )
        instance.handle = handle
        handle.finished.addCallback(self._ended, state, instance)
        if instance.kill_requested:
            handle.kill()
        self._changed()
        await call_running
        return Admission("started", state.name, instance_id=instance.id)

    def _spec(self, agent: AgentConfig, instance: Instance) -> RunSpec:
        """
        What the runtime needs to start ``instance``.
        """
        trigger = instance.trigger
        context = dict(trigger.context)
        run_file = {
            "agent": agent.name,
            "hooks": {"pre": list(agent.hooks.pre), "post": list(agent.hooks.post)},
            "timeout": agent.timeout,
            "models": [_model_json(self.project, name) for name in agent.models],
            "instructions": agent.instructions,
            "params": dict(agent.params),
            "trigger": {
                "type": trigger.kind,
                "source": trigger.source,
                "receiptId": trigger.receipt_id,
                "callId": trigger.call_id,
                "depth": trigger.depth,
                "context": context,
            },
        }
        env = {
            "GATEWAY_URL": self.gateway_url,
            "AL_RUN_SECRET": instance.secret,
            "AL_TRIGGER_TYPE": trigger.kind,
        }
        run_as = agent.runtime.run_as if agent.runtime.type == "host-user" else None
        return RunSpec(
            instance_id=instance.id,
            agent_name=agent.name,
            run_dir=self.project.state_dir / "runs" / instance.id,
            env=env,
            run_file=run_file,
            timeout=agent.timeout,
            run_as=run_as,
            credential_refs=self._credential_refs(agent),
        )

    def _credential_refs(self, agent: AgentConfig) -> tuple[str, ...]:
        """
        The credentials staged into a run: the agent's own, plus the API key
        of each of its models' providers (projects written for the original
        tool do not list those). A ``custom`` provider's key is optional (a
        local server may need none), so it is staged only when listed.
        """
        refs = list(agent.credentials)
        listed = {parse_ref(ref)[0] for ref in refs}
        for name in agent.models:
            model = self.project.models[name]
            key_type = PROVIDER_KEY_TYPES.get(model.provider)
            if (
                key_type is not None
                and model.auth_type == "api_key"
                and model.provider != "custom"
                and key_type not in listed
            ):
                refs.append(key_type)
                listed.add(key_type)
        return tuple(refs)

    def _on_line(self, instance: Instance) -> Callable[[LogLine], None]:
        """
        Where ``instance``'s output lines go: its agent's log.
        """

        def write(line: LogLine) -> None:
            self.logs.write(
                instance.agent, instance.id, line.level, line.message, **line.fields
            )

        return write

    def _ended(
        self, result: RunExit, state: AgentState, instance: Instance
    ) -> Deferred[None]:
        """
        A run has ended: free its locks and slot, record it, follow up.
        """
        return ensureDeferred(self._record_end(result, state, instance))

    async def _record_end(
        self, result: RunExit, state: AgentState, instance: Instance
    ) -> None:
        now = self.clock.seconds()
        released = self.locks.release_all(instance.id)
        self._secrets.pop(instance.secret, None)
        state.running.pop(instance.id, None)
        self._instances.pop(instance.id, None)
        self._total_running -= 1
        state.last_run_at = instance.started_at
        state.last_duration = now - instance.started_at
        state.last_result = result.outcome
        level = "info" if result.outcome == "completed" else "error"
        message = f"Run ended: {result.outcome}, exit code {result.exit_code}"
        if result.reason:
            message += f" ({result.reason})"
        if released:
            message += f"; released {len(released)} lock(s)"
        self.logs.write(state.name, instance.id, level, message)
        self.log.emit(
            LogLevel.info if result.outcome == "completed" else LogLevel.warn,
            "{instance} ended: {outcome}, exit code {exit_code} after {seconds:.1f} s",
            instance=instance.id,
            agent=state.name,
            outcome=result.outcome,
            exit_code=result.exit_code,
            seconds=state.last_duration,
        )
        try:
            await self.store.finish_run(
                instance.id, now, result.outcome, result.exit_code, error=result.reason
            )
            if instance.trigger.call_id:
                await self.store.update_call(
                    instance.trigger.call_id,
                    "completed" if result.outcome == "completed" else "error",
                    now,
                    return_value=instance.return_value,
                )
        finally:
            assert instance.ended is not None
            ended, instance.ended = instance.ended, None
            self._changed()
            self._rerun_if_asked(state, instance, result)
            self._drain()
            ended.callback(None)

    def _rerun_if_asked(
        self, state: AgentState, instance: Instance, result: RunExit
    ) -> None:
        """
        Start a scheduled run again if it asked to (``al-rerun``) and
        succeeded, up to the project's ``maxReruns``.
        """
        trigger = instance.trigger
        if not instance.rerun_requested or result.outcome != "completed":
            return
        if not trigger.is_scheduled:
            self.logs.write(
                state.name,
                instance.id,
                "warn",
                f"al-rerun ignored: only scheduled runs rerun, this was {trigger.kind}",
            )
            return
        if trigger.reruns >= self.project.max_reruns:
            self.logs.write(
                state.name,
                instance.id,
                "warn",
                f"al-rerun ignored: maxReruns ({self.project.max_reruns}) reached",
            )
            return
        rerun = Trigger("rerun", source=instance.id, reruns=trigger.reruns + 1)
        self._log_errors(self.submit(state.name, rerun), "rerun", state.name)

    def _log_errors(self, d: Deferred[Any], what: str, agent: str) -> None:
        """
        Log a failure of background work instead of losing it.
        """

        def failed(failure: Any) -> None:
            self.log.failure(
                "Starting {what} work for {agent} failed",
                failure,
                what=what,
                agent=agent,
            )

        d.addErrback(failed)

    # -- the queue --------------------------------------------------------------

    def _drain(self) -> None:
        """
        Start queued work, oldest first within each agent, while runners are
        free and the scheduler runs.
        """
        if self.paused or self.stopping or self._draining:
            return
        self._draining = True
        try:
            for state in self._agents.values():
                while state.queued > 0 and state.enabled and self._has_runner(state):
                    state.queued -= 1
                    instance = self._reserve(state, Trigger("manual"))
                    taking = ensureDeferred(self._start_next(state, instance))
                    self._log_errors(taking, "queued", state.name)
                    self._taking.add(taking)
                    taking.addBoth(self._taken, taking)
        finally:
            self._draining = False

    def _taken(self, result: None, taking: Deferred[None]) -> None:
        """
        An item taken from the queue has been started or put back; a stop
        no longer needs to wait for it.
        """
        self._taking.discard(taking)

    async def _start_next(self, state: AgentState, instance: Instance) -> None:
        """
        Lease the oldest item of ``state``'s queue and start it as
        ``instance``, whose runner slot was reserved for it; give the slot
        back if there is nothing to start after all.

        The reserved instance becomes the run, so a kill that arrives while
        the item is being taken still reaches the run.
        """
        try:
            item = await self.store.lease(state.name, self.clock.seconds())
        except BaseException:
            self._unreserve(state, instance)
            raise
        if item is None:
            self._unreserve(state, instance)
            self._drain()
            return
        if not state.enabled or self.paused or self.stopping:
            self._unreserve(state, instance)
            await self.store.unlease(item.work_id)
            state.queued += 1
            return
        instance.trigger = Trigger(
            kind=item.trigger_type,  # type: ignore[arg-type]
            source=item.trigger_source,
            context=item.context,
            call_id=item.call_id,
            depth=item.depth,
            receipt_id=item.receipt_id,
        )
        instance.started_at = self.clock.seconds()
        instance.ended = Deferred()
        await self._launch(state, instance, item)

    # -- controls ---------------------------------------------------------------

    def agent_names(self) -> list[str]:
        """
        The project's agents, by name.
        """
        return list(self._agents)

    def has_agent(self, name: str) -> bool:
        """
        Whether the project has an agent called ``name``.
        """
        return name in self._agents

    def pause(self) -> None:
        """
        Pause: no cron fires (missed ticks are not caught up); other work is
        queued until ``resume``.
        """
        if not self.paused:
            self.paused = True
            self.log.info("Scheduler paused")
            self._changed()

    def resume(self) -> None:
        """
        Resume after ``pause``; held work drains in order.
        """
        if self.paused:
            self.paused = False
            self.log.info("Scheduler resumed")
            self._changed()
            self._drain()

    def set_enabled(self, agent: str, enabled: bool) -> None:
        """
        Enable or disable one agent.

        :raises KeyError: for an unknown agent.
        :raises ValueError: when enabling an agent whose config has
            ``scale = 0``: it has no runner, so its work could never start.
        """
        state = self._agents[agent]
        if enabled and state.config.scale == 0:
            raise ValueError(
                f"{agent} has scale = 0 in its config.toml; raise its scale to "
                "enable it"
            )
        if state.enabled != enabled:
            state.enabled = enabled
            self.log.info(
                "Agent {agent} {what}",
                agent=agent,
                what="enabled" if enabled else "disabled",
            )
            self._changed()
            if enabled:
                self._drain()

    def kill_agent(self, agent: str) -> list[str]:
        """
        Kill every running instance of ``agent``; it stays enabled.

        :raises KeyError: for an unknown agent.
        :returns: the ids of the instances told to stop.
        """
        return [self._kill(i) for i in list(self._agents[agent].running.values())]

    def kill_instance(self, instance_id: str) -> bool:
        """
        Kill one running instance.

        :returns: whether there was such an instance.
        """
        instance = self._instances.get(instance_id)
        if instance is None:
            return False
        self._kill(instance)
        return True

    def _kill(self, instance: Instance) -> str:
        instance.kill_requested = True
        if instance.handle is not None:
            instance.handle.kill()
        return instance.id

    # -- what runs tell us ------------------------------------------------------

    def instance_for_secret(self, secret: str) -> Instance | None:
        """
        The live run that holds ``secret``; a finished run's secret matches
        nothing.
        """
        return self._secrets.get(secret)

    def instance(self, instance_id: str) -> Instance | None:
        """
        A live run by id.
        """
        return self._instances.get(instance_id)

    def set_status(self, instance: Instance, text: str) -> Deferred[None]:
        """
        ``al-status``: show ``text`` as the run's and agent's status.
        """
        instance.status_text = text
        self._agents[instance.agent].status_text = text
        self.logs.write(instance.agent, instance.id, "info", f"Status: {text}")
        self._changed()
        return self.store.set_status_text(instance.id, text)

    def request_rerun(self, instance: Instance) -> bool:
        """
        ``al-rerun``: run again once this run succeeds.

        :returns: whether a rerun can happen (only scheduled runs rerun).
        """
        instance.rerun_requested = True
        return instance.trigger.is_scheduled

    def set_return(self, instance: Instance, value: str) -> Deferred[None]:
        """
        ``al-return``: the run's result for the agent that called it.
        """
        instance.return_value = value
        return self.store.set_return_value(instance.id, value)

    async def call(self, caller: Instance, target: str, context: Any) -> CallRecord:
        """
        ``al-subagent``: start (or queue) ``target`` on behalf of ``caller``.

        :raises CallRefused: for a self-call, an unknown or disabled target,
            or a chain deeper than ``maxCallDepth``.
        """
        if target == caller.agent:
            raise CallRefused("an agent cannot call itself")
        if target not in self._agents:
            raise CallRefused(f"there is no agent called {target!r}")
        depth = caller.trigger.depth + 1
        if depth > self.project.max_call_depth:
            raise CallRefused(
                f"this call would be {depth} deep; maxCallDepth is "
                f"{self.project.max_call_depth}"
            )
        now = self.clock.seconds()
        call_context = {
            "caller": caller.agent,
            "callerInstance": caller.id,
            "context": context,
        }
        record = await self.store.create_call(
            caller.id, caller.agent, target, call_context, depth, now
        )
        trigger = Trigger(
            "agent-call",
            source=caller.agent,
            context=call_context,
            call_id=record.call_id,
            depth=depth,
        )
        admission = await self.submit(target, trigger)
        if admission.outcome == "refused":
            await self.store.update_call(record.call_id, "error", self.clock.seconds())
            raise CallRefused(f"{target} refused the call: {admission.reason}")
        return record

    # -- state --------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """
        The status snapshot (SPEC.md 4.4) that ``/control/status``, the status
        stream, the dashboard and ``al stat`` all show.
        """
        agents = []
        for state in self._agents.values():
            next_run = self._cron.next_fire(state.name)
            agents.append(
                {
                    "name": state.name,
                    "description": state.config.description,
                    "state": state.state,
                    "enabled": state.enabled,
                    "statusText": state.status_text,
                    "schedule": state.config.schedule,
                    "nextRunAt": _iso(next_run)
                    if state.enabled and not self.paused
                    else None,
                    "lastRunAt": _iso(state.last_run_at),
                    "lastRunDuration": state.last_duration,
                    "lastResult": state.last_result,
                    "queueDepth": state.queued,
                    "runningCount": len(state.running),
                    "scale": state.config.scale,
                }
            )
        return {
            "schedulerInfo": {
                "paused": self.paused,
                "stopping": self.stopping,
                "startedAt": iso_time(self.started_at),
                "version": __version__,
                "runningCount": self._total_running,
                "projectScale": self.project.scale,
            },
            "agents": agents,
            "instances": [i.to_json() for i in self._instances.values() if i.handle],
            "recentLogs": self.logs.recent(),
        }

    def _changed(self) -> None:
        """
        Tell subscribers that the state changed.
        """
        self.events.publish("state")

    # -- cron --------------------------------------------------------------------

    def _cron_due(self, agent: str, due: float) -> None:
        """
        A cron tick of ``agent`` is due.
        """
        if self.paused or self.stopping or not self._agents[agent].enabled:
            self._changed()
            return
        self._log_errors(
            self.submit(agent, Trigger("cron", source="schedule")), "cron", agent
        )


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso_time(ts)


def _model_json(project: ProjectConfig, name: str) -> dict[str, Any]:
    """
    A model's settings as the child's run file carries them.
    """
    model = project.models[name]
    return {
        "name": model.name,
        "provider": model.provider,
        "model": model.model,
        "authType": model.auth_type,
        "thinkingLevel": model.thinking_level,
        "baseUrl": model.base_url,
    }
