"""
The scheduler: cron timing, the admission gate, runner pools, the durable
work queue, and the life of each run.
"""

from ._model import Admission, AgentState, Instance, Trigger, TriggerKind
from ._scheduler import CallRefused, Scheduler

__all__ = [
    "Admission",
    "AgentState",
    "CallRefused",
    "Instance",
    "Scheduler",
    "Trigger",
    "TriggerKind",
]
