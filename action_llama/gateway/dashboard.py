"""
The ``/dashboard`` tree: the browser pages and their live streams, all
behind the auth wrapper.
"""

from __future__ import annotations

from typing import Any

from twisted.web.iweb import IRequest

from ..config import AGENT_NAME_RE
from ..scheduler import Scheduler
from ._json import HTTPError, json_app
from .sse import LogStream, StatusStream


def dashboard_resource(
    scheduler: Scheduler, status: StatusStream, logs: LogStream
) -> Any:
    """
    The ``/dashboard`` tree.

    :param scheduler: knows the agents.
    :param status: the status stream.
    :param logs: the per-agent log streams.
    """
    app = json_app()

    @app.route("/api/status-stream", methods=["GET"])
    def status_stream(request: IRequest) -> Any:
        return status.connect(request)

    @app.route("/api/logs/<agent>/stream", methods=["GET"])
    def log_stream(request: IRequest, agent: str) -> Any:
        if not AGENT_NAME_RE.match(agent) or not scheduler.has_agent(agent):
            raise HTTPError(404, f"there is no agent called {agent[:100]!r}")
        instance = request.args.get(b"instance", [b""])[0].decode("utf-8", "replace")
        return logs.connect(request, agent, instance or None)

    return app.resource()
