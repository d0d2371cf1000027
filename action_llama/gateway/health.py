"""
``GET /health``: is the service up, which version, for how long.

Unauthenticated, so load balancers and ``systemctl`` checks can use it. It
is the route polled most, so it is a plain ``Resource`` that the root hands
requests to before any routing: no URL matching, no Deferred.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource

from .. import __version__
from ._json import json_body, json_error


class HealthResource(Resource):
    """
    Answers ``GET /health``.

    :param clock: tells the current time for the uptime figure.
    :param started_at: when the service started, from ``clock.seconds()``.
    :param agent_count: how many agents the loaded project has.
    :ivar routes: the routes it serves, for the route table.
    """

    isLeaf = True
    routes = (("GET", "/health"),)

    def __init__(
        self,
        clock: IReactorTime,
        started_at: float,
        agent_count: Callable[[], int],
    ) -> None:
        super().__init__()
        self._clock = clock
        self._started_at = started_at
        self._agent_count = agent_count

    def render(self, request: IRequest) -> bytes:
        if request.postpath not in ([], [b""]):
            return json_error(request, 404, "no such route")
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD")
            return json_error(request, 405, "method not allowed on this route")
        return json_body(request, self.status())

    def status(self) -> dict[str, object]:
        """
        The health answer.
        """
        return {
            "status": "ok",
            "version": __version__,
            "uptime": round(self._clock.seconds() - self._started_at, 3),
            "agents": self._agent_count(),
        }
