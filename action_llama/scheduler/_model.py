"""
The scheduler's values: what starts work, what admission decided, and the
live state of each agent and run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from attrs import Factory, define, field, frozen
from twisted.internet.defer import Deferred

from ..config import AgentConfig
from ..cron import CronSchedule
from ..runtime import IRunHandle

TriggerKind = Literal["cron", "webhook", "manual", "agent-call", "replay", "rerun"]
AdmissionOutcome = Literal["started", "queued", "skipped", "refused"]


@frozen
class Trigger:
    """
    Why a run is wanted.

    :ivar kind: how it came: ``cron``, ``webhook``, ``manual``, ``agent-call``,
        ``replay`` or ``rerun`` (a scheduled run that asked to run again).
    :ivar source: who or what sent it, for the history (the webhook source,
        the calling agent, ``cli``, ``dashboard``).
    :ivar context: the trigger context handed to the run (JSON-able).
    :ivar call_id: the call this run answers, for ``agent-call``.
    :ivar depth: how deep in a chain of calls this run is (0 at the top).
    :ivar receipt_id: the webhook receipt behind it.
    :ivar reruns: how many reruns led here, for ``rerun``.
    """

    kind: TriggerKind
    source: str | None = None
    context: Mapping[str, Any] = field(factory=dict, hash=False)
    call_id: str | None = None
    depth: int = 0
    receipt_id: str | None = None
    reruns: int = 0

    @property
    def is_scheduled(self) -> bool:
        """
        Whether this trigger comes from the schedule (cron or a rerun), whose
        ticks are skipped rather than queued when no runner is free.
        """
        return self.kind in ("cron", "rerun")


@frozen
class Admission:
    """
    What the admission gate decided for one trigger.

    :ivar outcome: ``started`` (a run began), ``queued`` (stored to start
        later), ``skipped`` (a scheduled tick with no free runner) or
        ``refused`` (see ``reason``).
    :ivar reason: for ``refused``: ``unknown_agent``, ``agent_disabled``,
        ``paused`` (scheduled ticks while paused) or ``stopping``.
    :ivar dropped: work ids that queueing this pushed out of a full queue.
    """

    outcome: AdmissionOutcome
    agent: str
    instance_id: str | None = None
    work_id: str | None = None
    reason: str | None = None
    dropped: tuple[str, ...] = ()

    @property
    def wrote(self) -> bool:
        """
        Whether the decision was written to the database (a run started,
        work queued, a tick skipped, or work queued then dropped at once by a
        bound of 0), so that a ``before`` write given with it was made too.
        """
        return self.outcome != "refused" or self.reason == "queue_full"

    def to_json(self) -> dict[str, Any]:
        """
        The wire shape of the decision.
        """
        return {
            "agent": self.agent,
            "outcome": self.outcome,
            "instanceId": self.instance_id,
            "workId": self.work_id,
            "reason": self.reason,
        }


@define(eq=False)
class Instance:
    """
    One live run, from the moment its runner slot is reserved until it has
    ended and been recorded.
    """

    id: str
    agent: str
    secret: str
    trigger: Trigger
    started_at: float
    handle: IRunHandle | None = None
    status_text: str | None = None
    return_value: str | None = None
    rerun_requested: bool = False
    kill_requested: bool = False
    ended: Deferred[None] | None = None

    def to_json(self) -> dict[str, Any]:
        """
        The wire shape of a running instance (``instances`` in the status
        snapshot).
        """
        from ..logs import iso_time

        return {
            "id": self.id,
            "agentName": self.agent,
            "startedAt": iso_time(self.started_at),
            "trigger": self.trigger.kind,
            "triggerSource": self.trigger.source,
            "statusText": self.status_text,
        }


@define(eq=False)
class AgentState:
    """
    The live state of one agent.
    """

    config: AgentConfig
    schedule: CronSchedule | None
    enabled: bool
    running: dict[str, Instance] = Factory(dict)
    queued: int = 0
    status_text: str | None = None
    last_run_at: float | None = None
    last_duration: float | None = None
    last_result: str | None = None

    @property
    def name(self) -> str:
        """
        The agent's name.
        """
        return self.config.name

    @property
    def state(self) -> str:
        """
        ``disabled``, ``running``, ``error`` (the last run failed) or ``idle``.
        """
        if not self.enabled:
            return "disabled"
        if self.running:
            return "running"
        if self.last_result in ("error", "timeout", "lost"):
            return "error"
        return "idle"
