"""
The project database: one SQLite file at ``<project>/.al/action-llama.db``.

``Database`` owns the file and its writer thread; ``Store`` is the domain API
the scheduler and gateway use. ``queries`` holds the operations behind it, for
tools that read the file without a reactor (``Database.run_sync``).
"""

from ._db import Database, Operation
from ._errors import DatabaseUnavailable, NoSuchRecord, SchemaTooNew
from ._records import (
    AgentSummary,
    CallRecord,
    CallState,
    EnqueueResult,
    NewRun,
    NewWork,
    RunOutcome,
    RunRecord,
    SessionRecord,
    TriggerRecord,
    TriggerResult,
    TriggerType,
    WorkItem,
    new_id,
)
from ._schema import MIGRATIONS, migrate, schema_version
from ._store import Store

__all__ = [
    "MIGRATIONS",
    "AgentSummary",
    "CallRecord",
    "CallState",
    "Database",
    "DatabaseUnavailable",
    "EnqueueResult",
    "NewRun",
    "NewWork",
    "NoSuchRecord",
    "Operation",
    "RunOutcome",
    "RunRecord",
    "SchemaTooNew",
    "SessionRecord",
    "Store",
    "TriggerRecord",
    "TriggerResult",
    "TriggerType",
    "WorkItem",
    "migrate",
    "new_id",
    "schema_version",
]
