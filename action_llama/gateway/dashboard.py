"""
The ``/dashboard`` tree: the browser pages and their live streams, all
behind the auth wrapper.

Pages are rendered from the same state the APIs give (the status snapshot,
the run records) and then kept current by their scripts, through the status
and log streams; every action on them is a ``fetch`` to the control API.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from twisted.web.iweb import IRequest

from ..config import AGENT_NAME_RE
from ..scheduler import Scheduler
from . import pages
from ._json import HTTPError, json_app, json_body
from .auth import wants_html
from .sse import LogStream, StatusStream


def _page(request: IRequest, render: Callable[[str], str], code: int = 200) -> bytes:
    """
    Answer with the page ``render(nonce)``, under a policy that lets only
    that page's own inline style and script apply.
    """
    nonce = secrets.token_urlsafe(18)
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"content-security-policy", pages.content_security_policy(nonce))
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"referrer-policy", b"same-origin")
    return render(nonce).encode("utf-8")


def _not_found(request: IRequest, title: str, detail: str) -> bytes:
    """
    Answer with a 404 page.
    """
    return _page(request, lambda nonce: pages.not_found_page(title, detail, nonce), 404)


def dashboard_resource(
    scheduler: Scheduler, status: StatusStream, logs: LogStream
) -> Any:
    """
    The ``/dashboard`` tree.

    :param scheduler: knows the agents, and its store the runs.
    :param status: the status stream.
    :param logs: the per-agent log streams.
    """
    app = json_app()

    def is_agent(name: str) -> bool:
        return bool(AGENT_NAME_RE.match(name)) and scheduler.has_agent(name)

    async def run_json(instance_id: str) -> dict[str, Any] | None:
        """
        A run's record as JSON, with its trigger context; ``None`` if there
        is no such run.
        """
        record = await scheduler.store.get_run(instance_id)
        if record is None:
            return None
        return {**record.to_json(), "context": record.context}

    @app.route("/", methods=["GET"])
    def overview(request: IRequest) -> bytes:
        snapshot = scheduler.snapshot()
        return _page(request, lambda nonce: pages.overview_page(snapshot, nonce))

    @app.route("/triggers", methods=["GET"])
    def triggers(request: IRequest) -> bytes:
        return _page(request, pages.triggers_page)

    @app.route("/agents/<agent>/logs", methods=["GET"])
    def agent_logs(request: IRequest, agent: str) -> bytes:
        if not is_agent(agent):
            return _not_found(
                request,
                "No such agent",
                f"This project has no agent called {agent[:100]!r}.",
            )
        return _page(request, lambda nonce: pages.logs_page(agent, nonce))

    @app.route("/runs/<instance_id>", methods=["GET"])
    async def run(request: IRequest, instance_id: str) -> bytes:
        found = await run_json(instance_id)
        if found is None:
            return _not_found(
                request,
                "No such run",
                f"There is no run {instance_id[:100]!r}; it may have been pruned.",
            )
        return _page(request, lambda nonce: pages.run_page(found, nonce))

    @app.route("/api/runs/<instance_id>", methods=["GET"])
    async def run_api(request: IRequest, instance_id: str) -> bytes:
        found = await run_json(instance_id)
        if found is None:
            raise HTTPError(404, f"there is no run {instance_id[:100]!r}")
        return json_body(request, found)

    @app.route("/<path:rest>", methods=["GET"])
    def elsewhere(request: IRequest, rest: str) -> bytes:
        if not wants_html(request):
            raise HTTPError(404, "no such route")
        return _not_found(
            request, "No such page", "The dashboard has no page at this address."
        )

    @app.route("/api/status-stream", methods=["GET"])
    def status_stream(request: IRequest) -> Any:
        return status.connect(request)

    @app.route("/api/logs/<agent>/stream", methods=["GET"])
    def log_stream(request: IRequest, agent: str) -> Any:
        if not is_agent(agent):
            raise HTTPError(404, f"there is no agent called {agent[:100]!r}")
        instance = request.args.get(b"instance", [b""])[0].decode("utf-8", "replace")
        return logs.connect(request, agent, instance or None)

    return app.resource()
