"""
Every SQL statement of the store, as operations: functions of a connection.

``Store`` submits these to the writer thread; a tool without a reactor runs
them with ``Database.run_sync``, for example
``db.run_sync(lambda conn: queries.run_summary(conn, since))``. Each one
expects to be inside a transaction, so that its several statements apply
together or not at all. The behaviour of each is documented on the ``Store``
method of the same name.
"""

from ._history import list_triggers, prune_batch, record_trigger
from ._runs import (
    LOST_ERROR,
    add_tokens,
    finish_run,
    get_run,
    list_runs,
    mark_lost_runs,
    run_summary,
    set_return_value,
    set_status_text,
    start_run,
)
from ._sessions import (
    consume_login_token,
    create_login_token,
    create_session,
    end_all_sessions,
    end_session,
    live_sessions,
    touch_session,
)
from ._work import (
    create_call,
    enqueue,
    get_call,
    lease,
    queue_depths,
    queued,
    recover_leases,
    unlease,
    update_call,
)

__all__ = [
    "LOST_ERROR",
    "add_tokens",
    "consume_login_token",
    "create_call",
    "create_login_token",
    "create_session",
    "end_all_sessions",
    "end_session",
    "enqueue",
    "finish_run",
    "get_call",
    "get_run",
    "lease",
    "list_runs",
    "list_triggers",
    "live_sessions",
    "mark_lost_runs",
    "prune_batch",
    "queue_depths",
    "queued",
    "record_trigger",
    "recover_leases",
    "run_summary",
    "set_return_value",
    "set_status_text",
    "start_run",
    "touch_session",
    "unlease",
    "update_call",
]
