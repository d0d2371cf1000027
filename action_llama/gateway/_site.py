"""
Composing the route trees into the gateway's root resource.

The root is a Klein app: unprotected routes are added to it directly, and
each protected tree is a Klein app of its own, reached through a branch
route and wrapped by the auth resource.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web import http
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from twisted.web.server import Site

from ..scheduler import Scheduler
from ._json import json_app
from .auth import Authenticator, Protected
from .control import control_resource, lock_status_resource
from .dashboard import dashboard_resource
from .execution import add_execution_routes
from .health import HealthResource
from .login import Login, add_login_routes
from .openapi import add_openapi_route
from .sse import LogStream, StatusStream
from .stats import stats_resource
from .webhooks import WebhookReceiver, WebhookResource, receipts_resource

_access_log = Logger(namespace="action_llama.gateway.access")


def build_root(
    clock: IReactorTime,
    scheduler: Scheduler,
    auth: Authenticator,
    stop: Callable[[], None],
    status: StatusStream,
    logs: LogStream,
    webhooks: WebhookReceiver,
    login: Login,
) -> IResource:
    """
    The root of the gateway's resource tree.

    :param clock: the source of time for every tree.
    :param scheduler: the scheduler the routes read and control.
    :param auth: decides who a request comes from, for protected trees.
    :param stop: begins a graceful stop of the service.
    :param status: the status stream (started and stopped by the service).
    :param logs: the per-agent log streams (stopped by the service).
    :param webhooks: receives deliveries and serves the receipt APIs.
    :param login: sessions, login links and the throttle, for the login
        routes.
    """
    app = json_app()
    add_openapi_route(app)
    add_execution_routes(app, scheduler)
    add_login_routes(app, login, auth)
    stats = Protected(stats_resource(scheduler.store, webhooks), auth)
    receipts = Protected(receipts_resource(webhooks), auth)
    control = Protected(control_resource(scheduler, stop), auth)
    locks = Protected(lock_status_resource(scheduler), auth)
    dashboard = Protected(dashboard_resource(scheduler, status, logs), auth)

    @app.route("/dashboard/", branch=True)
    def dashboard_tree(request: IRequest) -> IResource:
        return dashboard

    @app.route("/api/stats/", branch=True)
    def stats_tree(request: IRequest) -> IResource:
        return stats

    @app.route("/api/webhooks/", branch=True)
    def receipts_tree(request: IRequest) -> IResource:
        return receipts

    @app.route("/control/", branch=True)
    def control_tree(request: IRequest) -> IResource:
        return control

    @app.route("/locks/status", methods=["GET"])
    def lock_status(request: IRequest) -> IResource:
        return locks

    return GatewayRoot(
        app.resource(),
        {b"health": _health(clock, scheduler), b"webhooks": WebhookResource(webhooks)},
    )


def build_run_root(clock: IReactorTime, scheduler: Scheduler) -> IResource:
    """
    The part of the gateway a run talks to, alone: ``/health`` and the run
    routes (signals, locks, calls), for ``al run`` without a service.
    """
    app = json_app()
    add_execution_routes(app, scheduler)
    return GatewayRoot(app.resource(), {b"health": _health(clock, scheduler)})


def _health(clock: IReactorTime, scheduler: Scheduler) -> HealthResource:
    return HealthResource(
        clock, scheduler.started_at, lambda: len(scheduler.agent_names())
    )


class GatewayRoot(Resource):
    """
    The root resource: a few hot, fixed routes answered directly, and
    everything else handed whole to the Klein route tree.

    :ivar tree: the Klein root, which routes on the full path.
    :ivar fast: resources for the busiest paths (``/health``,
        ``/webhooks/<name>``), by first segment, that skip URL routing; each
        lists the routes it serves in ``routes``.
    """

    def __init__(self, tree: IResource, fast: dict[bytes, Resource]) -> None:
        super().__init__()
        self.tree = tree
        self.fast = fast

    def getChildWithDefault(self, path: bytes, request: IRequest) -> IResource:
        fast = self.fast.get(path)
        if fast is not None:
            return fast
        # Give the segment back: the Klein tree matches the whole path.
        request.postpath.insert(0, request.prepath.pop())
        return self.tree

    def render(self, request: IRequest) -> Any:
        return self.tree.render(request)


class GatewaySite(Site):
    """
    The gateway's ``Site``: no tracebacks to clients; request bodies are
    left to the routes (no route reads form fields through
    ``request.args``, and Twisted's own form parsing fails on some
    malformed Content-Types before our code could answer); and an access
    log through ``twisted.logger`` at debug level, without query strings
    (one-time login links carry their token there), only when asked for.

    :param log_requests: emit one debug event per request.
    """

    displayTracebacks = False
    noisy = False

    def __init__(self, resource: IResource, log_requests: bool = False) -> None:
        super().__init__(resource, parsePOSTFormSubmission=False)
        self.log_requests = log_requests

    def log(self, request: http.Request) -> None:
        if not self.log_requests:
            return
        _access_log.debug(
            "{method} {path} {code}",
            method=request.method.decode("ascii", "replace"),
            path=request.path.decode("ascii", "replace"),
            code=request.code,
        )
