"""
The control API (``/control/*``) and ``GET /locks/status``: what the CLI
and the dashboard use to see and steer the scheduler. Every route here sits
behind the auth wrapper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from klein import Klein
from twisted.web.iweb import IRequest
from twisted.web.server import Request

from ..config import AGENT_NAME_RE
from ..scheduler import Scheduler, Trigger
from ._json import HTTPError, json_app, json_body, read_json


def _agent(scheduler: Scheduler, name: str) -> str:
    """
    ``name`` if the project has such an agent.

    :raises HTTPError: 404 otherwise.
    """
    if (
        len(name) > 100
        or not AGENT_NAME_RE.match(name)
        or not scheduler.has_agent(name)
    ):
        shown = name if len(name) <= 100 else name[:100] + "..."
        raise HTTPError(404, f"there is no agent called {shown!r}")
    return name


def _source(request: IRequest) -> str:
    """
    Who is asking, for the trigger history: the dashboard or the API.
    """
    principal = getattr(request, "principal", None)
    return (
        "dashboard" if principal is not None and principal.via == "session" else "api"
    )


def control_resource(scheduler: Scheduler, stop: Callable[[], None]) -> Any:
    """
    The ``/control`` tree.

    :param scheduler: the scheduler to steer.
    :param stop: begins a graceful stop of the whole service.
    """
    app = json_app()

    @app.route("/status", methods=["GET"])
    def status(request: IRequest) -> bytes:
        return json_body(request, scheduler.snapshot())

    @app.route("/pause", methods=["POST"])
    def pause(request: IRequest) -> bytes:
        scheduler.pause()
        return json_body(request, {"ok": True, "paused": True})

    @app.route("/resume", methods=["POST"])
    def resume(request: IRequest) -> bytes:
        scheduler.resume()
        return json_body(request, {"ok": True, "paused": False})

    @app.route("/stop", methods=["POST"])
    def stop_service(request: Request) -> bytes:
        request.notifyFinish().addBoth(lambda _: stop())
        return json_body(request, {"ok": True, "stopping": True})

    @app.route("/trigger/<name>", methods=["POST"])
    async def trigger(request: IRequest, name: str) -> bytes:
        agent = _agent(scheduler, name)
        body = read_json(request)
        if not isinstance(body, dict):
            raise HTTPError(400, 'send a JSON object, like {"context": {...}}')
        context = body.get("context", {})
        if not isinstance(context, dict):
            raise HTTPError(400, "'context' must be a JSON object")
        admission = await scheduler.submit(
            agent, Trigger("manual", source=_source(request), context=context)
        )
        if admission.outcome == "refused":
            reasons = {
                "agent_disabled": f"{agent} is disabled; enable it first",
                "queue_full": f"{agent}'s queue is full",
            }
            raise HTTPError(
                409, reasons.get(admission.reason or "", admission.reason or "refused")
            )
        return json_body(request, {"ok": True, **admission.to_json()})

    def set_enabled(request: IRequest, name: str, enabled: bool) -> bytes:
        agent = _agent(scheduler, name)
        try:
            scheduler.set_enabled(agent, enabled)
        except ValueError as e:
            raise HTTPError(409, str(e)) from None
        return json_body(request, {"ok": True, "agent": agent, "enabled": enabled})

    @app.route("/agents/<name>/enable", methods=["POST"])
    def enable(request: IRequest, name: str) -> bytes:
        return set_enabled(request, name, True)

    @app.route("/agents/<name>/resume", methods=["POST"])
    def resume_agent(request: IRequest, name: str) -> bytes:
        return set_enabled(request, name, True)

    @app.route("/agents/<name>/disable", methods=["POST"])
    def disable(request: IRequest, name: str) -> bytes:
        return set_enabled(request, name, False)

    @app.route("/agents/<name>/pause", methods=["POST"])
    def pause_agent(request: IRequest, name: str) -> bytes:
        return set_enabled(request, name, False)

    @app.route("/agents/<name>/kill", methods=["POST"])
    def kill_agent(request: IRequest, name: str) -> bytes:
        agent = _agent(scheduler, name)
        killed = scheduler.kill_agent(agent)
        return json_body(request, {"ok": True, "agent": agent, "killed": killed})

    @app.route("/kill/<instance_id>", methods=["POST"])
    def kill_instance(request: IRequest, instance_id: str) -> bytes:
        if not scheduler.kill_instance(instance_id):
            raise HTTPError(404, f"no running instance {instance_id[:100]!r}")
        return json_body(request, {"ok": True, "killed": [instance_id]})

    return app.resource()


def lock_status_resource(scheduler: Scheduler) -> Any:
    """
    The ``/locks/status`` route: the active resource locks. The root app
    matches the path and method; this tree sees what is left of the path,
    which is nothing.
    """
    app: Klein = json_app()

    @app.route("/", methods=["GET"], strict_slashes=False)
    def locks(request: IRequest) -> bytes:
        return json_body(
            request, {"locks": [lock.to_json() for lock in scheduler.locks.active()]}
        )

    return app.resource()
