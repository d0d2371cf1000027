"""
The routes running agents use: signals, resource locks and calls.

They are not behind the API key: each request carries the run's own secret
as ``Authorization: Bearer <secret>``, which identifies the run. A wrong or
missing secret, or the secret of a run that has ended, gets 403.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from klein import Klein
from twisted.web.iweb import IRequest

from ..locks import LockKeyError
from ..scheduler import CallRefused, Instance, Scheduler
from ._json import HTTPError, json_body, read_json


def _instance(request: IRequest, scheduler: Scheduler) -> Instance:
    """
    The run a request comes from, by its secret.

    :raises HTTPError: 403 when the secret matches no live run.
    """
    header = (request.getHeader(b"authorization") or b"").decode("latin-1")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() == "bearer" and secret:
        instance = scheduler.instance_for_secret(secret.strip())
        if instance is not None and hmac.compare_digest(
            instance.secret, secret.strip()
        ):
            return instance
    raise HTTPError(403, "this route needs the secret of a running agent")


def _text(body: Any, name: str, limit: int = 10_000) -> str:
    """
    A string field of a JSON body.

    :raises HTTPError: 400 when it is missing, not a string or too long.
    """
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, str):
        raise HTTPError(400, f"the body needs a string field {name!r}")
    if len(value) > limit:
        raise HTTPError(400, f"{name!r} is longer than {limit} characters")
    return value


def _count(body: Any, name: str) -> int:
    """
    A token count field of a JSON body.

    :raises HTTPError: 400 when it is missing or not a whole number from 0
        to 10**9.
    """
    value = body.get(name) if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise HTTPError(400, f"the body needs a whole number field {name!r}")
    if not 0 <= value <= 10**9:
        raise HTTPError(400, f"{name!r} must be from 0 to 1000000000")
    return value


def add_execution_routes(app: Klein, scheduler: Scheduler) -> None:
    """
    Add the run routes (``/signals/*``, ``/locks/acquire|release|heartbeat``,
    ``/calls``) to ``app``.
    """

    @app.route("/signals/status", methods=["POST"])
    def status(request: IRequest) -> Any:
        instance = _instance(request, scheduler)
        text = _text(read_json(request), "text", 500)
        d = scheduler.set_status(instance, text)
        return d.addCallback(lambda _: json_body(request, {"ok": True}))

    @app.route("/signals/rerun", methods=["POST"])
    def rerun(request: IRequest) -> bytes:
        instance = _instance(request, scheduler)
        if not scheduler.request_rerun(instance):
            return json_body(
                request,
                {"ok": False, "reason": "only scheduled runs can rerun"},
            )
        return json_body(request, {"ok": True})

    @app.route("/signals/return", methods=["POST"])
    def return_value(request: IRequest) -> Any:
        instance = _instance(request, scheduler)
        value = _text(read_json(request), "value", 1_000_000)
        d = scheduler.set_return(instance, value)
        return d.addCallback(lambda _: json_body(request, {"ok": True}))

    @app.route("/signals/usage", methods=["POST"])
    def usage(request: IRequest) -> Any:
        instance = _instance(request, scheduler)
        body = read_json(request)
        input_tokens = _count(body, "inputTokens")
        output_tokens = _count(body, "outputTokens")
        d = scheduler.store.add_tokens(instance.id, input_tokens, output_tokens)
        return d.addCallback(lambda _: json_body(request, {"ok": True}))

    @app.route("/signals/exit", methods=["POST"])
    def exit_signal(request: IRequest) -> bytes:
        instance = _instance(request, scheduler)
        body = read_json(request)
        code = body.get("code", 15) if isinstance(body, dict) else None
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
            raise HTTPError(400, "'code' must be a whole number from 0 to 255")
        scheduler.logs.write(
            instance.agent, instance.id, "info", f"al-exit {code}: ending the run"
        )
        return json_body(request, {"ok": True, "code": code})

    def lock_route(operation: Callable[[str, Instance], Any]) -> Any:
        """
        A lock route: the run's secret, a ``resourceKey``, and the lock
        table's answer.
        """

        def route(request: IRequest) -> bytes:
            instance = _instance(request, scheduler)
            key = _text(read_json(request), "resourceKey", 1024)
            try:
                result = operation(key, instance)
            except LockKeyError as e:
                raise HTTPError(400, str(e)) from None
            return json_body(request, result.to_json())

        return route

    locks = scheduler.locks
    for path, operation in [
        ("acquire", lambda key, i: locks.acquire(key, i.id, i.agent)),
        ("release", lambda key, i: locks.release(key, i.id)),
        ("heartbeat", lambda key, i: locks.heartbeat(key, i.id)),
    ]:
        app.route(f"/locks/{path}", methods=["POST"], endpoint=f"lock_{path}")(
            lock_route(operation)
        )

    @app.route("/calls", methods=["POST"])
    async def call(request: IRequest) -> bytes:
        instance = _instance(request, scheduler)
        body = read_json(request)
        target = _text(body, "targetAgent", 200)
        context = body.get("context", "") if isinstance(body, dict) else ""
        try:
            record = await scheduler.call(instance, target, context)
        except CallRefused as e:
            return json_body(request, {"ok": False, "error": str(e)}, 409)
        return json_body(request, {"ok": True, "callId": record.call_id})

    @app.route("/calls/<call_id>", methods=["GET"])
    async def check(request: IRequest, call_id: str) -> bytes:
        instance = _instance(request, scheduler)
        record = await scheduler.store.get_call(call_id)
        if record is None or record.caller_agent != instance.agent:
            raise HTTPError(404, f"no call {call_id!r} made by this agent")
        return json_body(
            request,
            {
                "ok": True,
                "callId": record.call_id,
                "targetAgent": record.target_agent,
                "status": record.state,
                "instanceId": record.instance_id,
                "returnValue": record.return_value,
            },
        )
