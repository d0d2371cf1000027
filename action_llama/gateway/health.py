"""
``GET /health``: is the service up, which version, for how long.

Unauthenticated, so load balancers and ``systemctl`` checks can use it.
"""

from __future__ import annotations

from collections.abc import Callable

from klein import Klein
from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IRequest

from .. import __version__
from ._json import json_body


def add_health_routes(
    app: Klein,
    clock: IReactorTime,
    started_at: float,
    agent_count: Callable[[], int],
) -> None:
    """
    Add ``GET /health`` to ``app``.

    :param clock: tells the current time for the uptime figure.
    :param started_at: when the service started, from ``clock.seconds()``.
    :param agent_count: how many agents the loaded project has.
    """

    @app.route("/health", methods=["GET"])
    def health(request: IRequest) -> bytes:
        return json_body(
            request,
            {
                "status": "ok",
                "version": __version__,
                "uptime": round(clock.seconds() - started_at, 3),
                "agents": agent_count(),
            },
        )
