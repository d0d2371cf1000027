"""
``POST /webhooks/<type-or-source>``: receive, verify, store, match and
dispatch a delivery; and the protected receipt APIs (replay, detail).

The order of work follows SPEC.md 6: size limit, signature, durable receipt
(before any 2xx), dedupe by the provider's delivery id, parse, match,
dispatch through the scheduler's admission gate. A delivery that matches no
agent is still a stored receipt: a dead letter with a machine-readable
reason, answered 200.
"""

from __future__ import annotations

import os
from typing import Any

import attrs
from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from ..config import ProjectConfig, WebhookSource
from ..credentials import WEBHOOK_SECRET_TYPES, CredentialStore
from ..scheduler import Admission, Scheduler, Trigger, TriggerKind
from ..store import new_id
from ..store._receipts import DuplicateDelivery, NewReceipt, Receipt, ReceiptStore
from ..webhooks import (
    PROVIDERS,
    ParseError,
    Provider,
    WebhookContext,
    discord_deferred_response,
    match_agents,
)
from ._json import HTTPError, http_error_body, json_app, json_body, json_error

log = Logger(namespace="action_llama.gateway.webhooks")

#: The largest body accepted, in bytes.
MAX_BODY = 10 * 1024 * 1024

#: Headers kept with a receipt (lower-case); the rest are dropped.
_KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "x-github-event",
    "x-github-delivery",
    "x-hub-signature-256",
    "x-github-hook-id",
    "sentry-hook-resource",
    "sentry-hook-signature",
    "sentry-hook-timestamp",
    "request-id",
    "linear-signature",
    "linear-delivery",
    "linear-event",
    "x-mintlify-signature",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "x-slack-retry-num",
    "x-slack-retry-reason",
    "x-signature-ed25519",
    "x-signature-timestamp",
    "x-twitter-webhooks-signature",
)


@attrs.frozen
class Candidate:
    """
    A configured source a delivery may have come through, with its secret.
    """

    source: WebhookSource
    provider: Provider
    secret: dict[str, str] | None


class WebhookReceiver:
    """
    Everything the webhook routes need: the project's sources, the secrets,
    the receipts and the scheduler.
    """

    def __init__(
        self,
        project: ProjectConfig,
        credentials: CredentialStore,
        receipts: ReceiptStore,
        scheduler: Scheduler,
    ) -> None:
        self.project = project
        self.credentials = credentials
        self.receipts = receipts
        self.scheduler = scheduler
        self._secrets: dict[str, tuple[tuple[int, int] | None, dict[str, str]]] = {}
        self._dispatching: set[str] = set()
        self._secret_dirs: dict[str, str] = {}
        self._sources: dict[str, list[WebhookSource]] = {}

    def candidates(self, name: str) -> list[Candidate]:
        """
        The sources a delivery to ``/webhooks/<name>`` may belong to: the
        source called ``name``, else every source of the type ``name``.

        :raises HTTPError: 404 when there is none.
        """
        sources = self._sources.get(name)
        if sources is None:
            sources = self._sources_for(name)
        found = [
            Candidate(source, PROVIDERS[source.type], self._secret(source))
            for source in sources
        ]
        if not found:
            raise HTTPError(
                404, f"no webhook source or source type {name[:100]!r} is configured"
            )
        # Signed sources are tried first; an unsigned one takes what is left.
        found.sort(key=lambda c: c.secret is None)
        return found

    def _sources_for(self, name: str) -> list[WebhookSource]:
        """
        The source called ``name``, else every source of the type ``name``
        (remembered: the project's sources do not change while it runs).
        """
        configured = self.project.webhooks
        if name in configured:
            chosen = [configured[name]]
        else:
            chosen = [s for s in configured.values() if s.type == name]
        if chosen:
            self._sources[name] = chosen
        return chosen

    def _secret(self, source: WebhookSource) -> dict[str, str] | None:
        """
        The secret fields of ``source``, or ``None`` for a source without a
        credential. A configured credential that is missing from the store
        is an empty secret, which verifies nothing.

        The fields are read again only when the credential's directory
        changes (the store writes by renaming into it), so a fixed or rotated
        secret takes effect at once without a read on every delivery.
        """
        if not source.credential:
            return None
        kind = WEBHOOK_SECRET_TYPES[source.type]
        directory = self._secret_dirs.get(source.name)
        if directory is None:
            directory = str(self.credentials.path(kind, source.credential))
            self._secret_dirs[source.name] = directory
        try:
            st = os.stat(directory)
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            stamp = None
        cached = self._secrets.get(source.name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        secret = self._read_secret(source, kind)
        self._secrets[source.name] = (stamp, secret)
        return secret

    def _read_secret(self, source: WebhookSource, kind: str) -> dict[str, str]:
        """
        Read the secret fields of ``source`` from the store.
        """
        assert source.credential is not None
        try:
            return self.credentials.read(kind, source.credential)
        except KeyError:
            log.warn(
                "Webhook source {source} names credential {ref}, which is not "
                "stored; its deliveries cannot be verified",
                source=source.name,
                ref=f"{WEBHOOK_SECRET_TYPES[source.type]}:{source.credential}",
            )
            return {}

    async def receive(self, request: IRequest, name: str) -> bytes:
        """
        Handle one delivery (see the module docstring).
        """
        candidates = self.candidates(name)
        body = _read_body(request)
        headers = _headers(request)
        method = request.method.decode("ascii")
        query = {
            k.decode("utf-8", "replace"): v[0].decode("utf-8", "replace")
            for k, v in (request.args or {}).items()
            if v
        }
        now = self.scheduler.clock.seconds()
        for candidate in candidates:
            answer = candidate.provider.handshake(
                method, headers, body, query, candidate.secret
            )
            if answer is not None:
                request.setResponseCode(answer.code)
                request.setHeader(b"content-type", answer.content_type.encode())
                return answer.body
        if method != "POST":
            raise HTTPError(405, "webhooks are delivered with POST", allow="POST")

        chosen, verdict = _verify(candidates, headers, body, now)
        provider = chosen.provider
        source = chosen.source.name
        if not verdict.ok:
            receipt_id = await self._store(
                NewReceipt(
                    received_at=now,
                    provider=provider.name,
                    source=source,
                    delivery_id=None,
                    verdict=verdict.reason or "bad_signature",
                    headers=_kept(headers),
                    body=body,
                    dead_letter_reason="stale"
                    if verdict.reason == "stale"
                    else "bad_signature",
                )
            )
            log.warn(
                "Refused a {provider} delivery to {source}: {reason} "
                "(receipt {receipt})",
                provider=provider.name,
                source=source,
                reason=verdict.reason,
                receipt=receipt_id,
            )
            return _refusal(request, verdict.reason, receipt_id)

        delivery_id = _delivery_id(provider, headers, body)
        try:
            context = provider.parse(headers, body)
        except ParseError as e:
            context = None
            parse_error = str(e)
        matched: list[str] = []
        receipt_id = new_id()
        if context is not None:
            context = attrs.evolve(context, source=source, receipt_id=receipt_id)
            matched = match_agents(self.project.agents, source, context)
        reason = "parse_error" if context is None else (None if matched else "no_match")
        receipt = NewReceipt(
            received_at=now,
            provider=provider.name,
            source=source,
            delivery_id=delivery_id,
            verdict=verdict.reason or "verified",
            headers=_kept(headers),
            body=body,
            event=context.event if context else None,
            matched=tuple(matched),
            dead_letter_reason=reason,
        )
        if context is None or not matched:
            try:
                receipt_id = await self._store(receipt, receipt_id)
            except DuplicateDelivery as e:
                return _duplicate(request, e.receipt_id)
            if context is None:
                log.warn(
                    "Could not read a {provider} delivery to {source}: {error}",
                    provider=provider.name,
                    source=source,
                    error=parse_error,
                )
            return json_body(
                request,
                {
                    "ok": True,
                    "receiptId": receipt_id,
                    "matched": [],
                    **({} if context is None else {"started": [], "queued": []}),
                    "deadLetterReason": reason,
                },
            )
        # The receipt is written in the same transaction as the first run or
        # queued work it causes: one commit, and never one without the other.
        try:
            result = await self._dispatch_new(receipt, receipt_id, context, matched)
        except DuplicateDelivery as e:
            if e.dispatched or e.receipt_id in self._dispatching:
                return _duplicate(request, e.receipt_id)
            log.info(
                "A redelivery of receipt {receipt} arrived, whose dispatch was "
                "lost; dispatching it now",
                receipt=e.receipt_id,
            )
            receipt_id = e.receipt_id
            result = await self._dispatch_new(None, receipt_id, context, matched)
        if context.receipt_id != receipt_id:
            context = attrs.evolve(context, receipt_id=receipt_id)
        deferred_answer = discord_deferred_response(context)
        if deferred_answer is not None and matched:
            request.setHeader(b"content-type", deferred_answer.content_type.encode())
            return deferred_answer.body
        return json_body(request, {"ok": True, "receiptId": receipt_id, **result})

    async def _dispatch_new(
        self,
        receipt: NewReceipt | None,
        receipt_id: str,
        context: WebhookContext,
        matched: list[str],
    ) -> dict[str, Any]:
        """
        Dispatch a verified, matched delivery, storing ``receipt`` (unless it
        is stored already) with the first write.

        :raises DuplicateDelivery: if an accepted receipt has its delivery id.
        :raises HTTPError: 503 if it could not be stored or dispatched.
        """
        self._dispatching.add(receipt_id)
        try:
            return await self.dispatch(
                receipt_id,
                (
                    context
                    if context.receipt_id == receipt_id
                    else attrs.evolve(context, receipt_id=receipt_id)
                ).to_json(),
                matched,
                "webhook",
                context.source or context.provider,
                receipt,
            )
        except (DuplicateDelivery, HTTPError):
            raise
        except Exception:
            log.failure(
                "Could not store or dispatch webhook receipt {receipt}",
                receipt=receipt_id,
            )
            raise HTTPError(
                503,
                "the delivery could not be stored or dispatched; retry later",
                retry_after="5",
            ) from None
        finally:
            self._dispatching.discard(receipt_id)

    async def _store(self, receipt: NewReceipt, receipt_id: str | None = None) -> str:
        """
        Store a receipt durably, or refuse the delivery with 503 so the
        sender retries.
        """
        try:
            return await self.receipts.add(receipt, receipt_id)
        except DuplicateDelivery:
            raise
        except Exception:
            log.failure("Could not store a webhook receipt")
            raise HTTPError(
                503, "the delivery could not be stored; retry later", retry_after="5"
            ) from None

    async def dispatch(
        self,
        receipt_id: str,
        context: dict[str, Any],
        matched: list[str],
        kind: TriggerKind,
        source: str,
        receipt: NewReceipt | None = None,
    ) -> dict[str, Any]:
        """
        Submit a delivery to each matched agent through the admission gate,
        and record what became of it.

        :param receipt: the delivery's receipt when it is not stored yet: it
            is written in the same transaction as the first admission that
            writes anything (or, when every agent refused, as a dead letter).
        :returns: ``matched``, ``started``, ``queued`` and, when nothing took
            it, ``deadLetterReason``.
        :raises DuplicateDelivery: if ``receipt`` duplicates a stored one.
        """
        started: list[str] = []
        queued: list[str] = []
        refusals: list[str] = []
        unstored = receipt
        for agent in matched:
            before = (
                self.receipts.insert_operation(unstored, receipt_id)
                if unstored is not None
                else None
            )
            admission: Admission = await self.scheduler.submit(
                agent,
                Trigger(kind, source=source, context=context, receipt_id=receipt_id),
                before,
            )
            if admission.wrote:
                unstored = None
            if admission.outcome == "started":
                started.append(agent)
            elif admission.outcome == "queued":
                queued.append(agent)
            else:
                refusals.append(admission.reason or "refused")
        result: dict[str, Any] = {
            "matched": matched,
            "started": started,
            "queued": queued,
        }
        if matched and not started and not queued:
            reason = "agent_disabled" if "agent_disabled" in refusals else "queue_full"
            if unstored is not None:
                await self.receipts.add(
                    attrs.evolve(unstored, dead_letter_reason=reason), receipt_id
                )
            else:
                await self.receipts.set_outcome(
                    receipt_id, tuple(matched), reason, self.scheduler.clock.seconds()
                )
            result["deadLetterReason"] = reason
        elif not matched:
            result["deadLetterReason"] = "no_match"
        return result

    async def dispatch_lost(self, since: float) -> int:
        """
        Dispatch the receipts that were stored but never dispatched (the
        service stopped in between), as the service starts.

        :returns: how many were dispatched.
        """
        receipts = await self.receipts.undispatched(since)
        for receipt in receipts:
            provider = PROVIDERS[receipt.provider]
            try:
                context = provider.parse(receipt.headers, receipt.body)
            except ParseError:
                continue
            context = attrs.evolve(
                context, source=receipt.source, receipt_id=receipt.receipt_id
            )
            kind: TriggerKind = "replay" if receipt.replay_of else "webhook"
            await self.dispatch(
                receipt.receipt_id,
                context.to_json(),
                list(receipt.matched),
                kind,
                receipt.source or receipt.provider,
            )
            log.warn(
                "Dispatched webhook receipt {receipt}, stored before the last "
                "stop but never dispatched",
                receipt=receipt.receipt_id,
            )
        return len(receipts)

    async def replay(self, receipt_id: str, dry_run: bool) -> dict[str, Any]:
        """
        Re-dispatch a stored delivery through the current filters.

        :raises HTTPError: 404 for an unknown receipt, 409 for one that was
            refused (its body was not trusted, and may be cut short).
        """
        original = await self.receipts.get(receipt_id)
        if original is None:
            raise HTTPError(404, f"no webhook receipt {receipt_id[:64]!r}")
        if original.verdict not in ("verified", "unsigned", "replay"):
            raise HTTPError(
                409,
                f"receipt {receipt_id} failed its signature check and cannot be "
                "replayed",
            )
        provider = PROVIDERS[original.provider]
        try:
            context = provider.parse(original.headers, original.body)
        except ParseError as e:
            raise HTTPError(409, f"receipt {receipt_id} cannot be read: {e}") from None
        context = attrs.evolve(context, source=original.source)
        matched = match_agents(self.project.agents, original.source or "", context)
        if dry_run:
            return {
                "ok": True,
                "dryRun": True,
                "receiptId": receipt_id,
                "matched": matched,
            }
        new_id = await self._store(
            NewReceipt(
                received_at=self.scheduler.clock.seconds(),
                provider=original.provider,
                source=original.source,
                delivery_id=original.delivery_id,
                verdict="replay",
                headers=original.headers,
                body=original.body,
                event=context.event,
                matched=tuple(matched),
                dead_letter_reason=None if matched else "no_match",
                replay_of=original.receipt_id,
            )
        )
        context = attrs.evolve(context, receipt_id=new_id)
        result = await self.dispatch(
            new_id,
            context.to_json(),
            matched,
            "replay",
            original.source or original.provider,
        )
        return {"ok": True, "receiptId": new_id, "replayOf": receipt_id, **result}

    async def detail(self, receipt_id: str) -> dict[str, Any]:
        """
        One receipt in full, with the replays made of it.

        :raises HTTPError: 404 for an unknown receipt.
        """
        receipt: Receipt | None = await self.receipts.get(receipt_id)
        if receipt is None:
            raise HTTPError(404, f"no webhook receipt {receipt_id[:64]!r}")
        shape = receipt.to_json(with_body=True)
        shape["replays"] = await self.receipts.replays_of(receipt_id)
        return shape


def _verify(
    candidates: list[Candidate], headers: dict[str, str], body: bytes, now: float
) -> tuple[Candidate, Any]:
    """
    The first source whose secret verifies the delivery (an unsigned source
    accepts anything), or the first source with the reason it failed.
    """
    first_failure = None
    for candidate in candidates:
        verdict = candidate.provider.verify(headers, body, candidate.secret, now)
        if verdict.ok:
            return candidate, verdict
        if first_failure is None:
            first_failure = (candidate, verdict)
    assert first_failure is not None
    return first_failure


def _delivery_id(
    provider: Provider, headers: dict[str, str], body: bytes
) -> str | None:
    try:
        return provider.delivery_id(headers, body)
    except (ValueError, KeyError, TypeError):
        return None


def _duplicate(request: IRequest, receipt_id: str) -> bytes:
    """
    The answer to a copy of a delivery already taken.
    """
    return json_body(request, {"ok": True, "duplicate": True, "receiptId": receipt_id})


def _refusal(request: IRequest, reason: str | None, receipt_id: str) -> bytes:
    messages = {
        "stale": "the delivery's timestamp is too old",
        "missing_signature": "the delivery carries no signature",
    }
    message = messages.get(reason or "", "the delivery's signature does not match")
    return json_body(request, {"error": message, "receiptId": receipt_id}, 401)


def _read_body(request: IRequest) -> bytes:
    """
    The raw body, refusing one over `MAX_BODY` with 413.
    """
    declared = request.getHeader(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPError(413, f"the body is larger than {MAX_BODY} bytes")
    if request.content is None:
        return b""
    request.content.seek(0)
    body: bytes = request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise HTTPError(413, f"the body is larger than {MAX_BODY} bytes")
    return body


def _headers(request: IRequest) -> dict[str, str]:
    """
    The request's headers, lower-cased, first value of each.
    """
    found = {}
    for name, values in request.requestHeaders.getAllRawHeaders():
        if values:
            found[name.decode("latin-1").lower()] = values[0].decode("latin-1")
    return found


def _kept(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k in _KEPT_HEADERS}


class WebhookResource(Resource):
    """
    ``/webhooks/<name>``: deliveries (``POST``) and X's CRC check (``GET``).

    It is the busiest route, so the root hands requests to it before any
    URL routing; it answers errors as JSON like every route tree does.

    :ivar routes: the routes it serves, for the route table.
    """

    isLeaf = True
    routes = (("GET", "/webhooks/{name}"), ("POST", "/webhooks/{name}"))

    def __init__(self, receiver: WebhookReceiver) -> None:
        super().__init__()
        self._receiver = receiver

    def render(self, request: Request) -> bytes | int:
        segments = request.postpath or []
        if len(segments) != 1 or not segments[0]:
            return json_error(request, 404, "no such route")
        if request.method not in (b"POST", b"GET"):
            request.setHeader(b"allow", b"GET, POST")
            return json_error(request, 405, "method not allowed on this route")
        try:
            name = segments[0].decode("utf-8")
        except UnicodeDecodeError:
            return json_error(request, 404, "no such route")
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        d = ensureDeferred(self._receiver.receive(request, name))
        d.addErrback(_webhook_error, request)
        d.addCallback(_finish, request, gone)
        return NOT_DONE_YET


def _webhook_error(failure: Failure, request: IRequest) -> bytes:
    """
    The JSON answer for a delivery that failed: its own status for an
    expected error, a logged 500 for anything else.
    """
    if isinstance(failure.value, HTTPError):
        return http_error_body(request, failure.value)
    log.failure("Unexpected error receiving a webhook", failure)
    return json_error(request, 500, "internal error; see the service log")


def _finish(body: bytes, request: IRequest, gone: list[bool]) -> None:
    """
    Send ``body`` and end the request, unless the client has gone.
    """
    if gone:
        return
    request.write(body)
    request.finish()


def receipts_resource(receiver: WebhookReceiver) -> Any:
    """
    The protected ``/api/webhooks`` tree: replay a stored delivery.
    """
    app = json_app()

    @app.route("/<receipt_id>/replay", methods=["POST"])
    async def replay(request: IRequest, receipt_id: str) -> bytes:
        dry_run = request.args.get(b"dryRun", [b"false"])[0].lower() in (b"true", b"1")
        return json_body(request, await receiver.replay(receipt_id, dry_run))

    return app.resource()
