"""
Slack: the Events API, slash commands and interactivity.

Slack signs every request the same way: ``X-Slack-Signature`` is ``v0=``
and the hex HMAC-SHA256, under the app's signing secret, of ``v0:``, the
``X-Slack-Request-Timestamp`` header (seconds), ``:`` and the raw body.
A verified request whose timestamp is more than five minutes from our clock
is ``stale``, so a captured request cannot be replayed later.

- Events API: a JSON body.  Its ``url_verification`` challenge is answered
  (once its signature checks out) by echoing ``challenge``; an
  ``event_callback`` becomes a context whose ``event`` is the inner event's
  ``type``.  The delivery id is the body's ``event_id``, which Slack's
  retries repeat.
- Slash commands: a form body (``command``, ``text``, ``channel_id``,
  ``team_id``, ``user_id``, ...); ``event`` is ``slash_command``.  They carry
  no delivery id.  Slack's ``ssl_check`` form posts are answered with an
  empty 200.
- Interactivity: a form body whose ``payload`` field is JSON; ``event`` is
  its ``type`` (``block_actions``, ``view_submission``, ``shortcut``, ...).

Authors are Slack user ids; ``org`` is the workspace (team) id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._model import (
    MISSING_SIGNATURE,
    ORG_FILTERS,
    STALE,
    UNSIGNED,
    VERIFIED,
    HandshakeAnswer,
    Headers,
    ParseError,
    Verdict,
    WebhookContext,
)
from ._payload import (
    FORM,
    compact,
    content_type,
    epoch,
    hmac_verdict,
    iso,
    items,
    load_form,
    load_json,
    maybe_json,
    obj,
    text,
    to_bytes,
    within,
)

WINDOW = 300.0
"""
How far, in seconds, ``X-Slack-Request-Timestamp`` may be from our clock.
"""


class SlackProvider:
    """
    Verify, answer and read Slack requests.
    """

    name = "slack"
    secret_type = "slack_signing_secret"
    filter_fields = ORG_FILTERS | {
        "events",
        "actions",
        "channels",
        "commands",
        "author",
    }

    def verify(
        self,
        headers: Headers,
        body: bytes,
        secret: Mapping[str, str] | None,
        now: float,
    ) -> Verdict:
        """
        Check ``X-Slack-Signature`` against the ``secret`` field, then the
        signed timestamp against ``now``.

        :param headers: the request headers.
        :param body: the raw request body.
        :param secret: the ``slack_signing_secret`` fields, or ``None``.
        :param now: the current time, in seconds since the epoch.
        :returns: ``stale`` for a good signature more than `WINDOW` seconds
            from ``now``.
        """
        if secret is None:
            return UNSIGNED
        verdict = _signature(headers, body, secret)
        if verdict != VERIFIED:
            return verdict
        sent = epoch(headers["x-slack-request-timestamp"])
        if sent is None or not within(now, sent, WINDOW):
            return STALE
        return VERIFIED

    def handshake(
        self,
        method: str,
        headers: Headers,
        body: bytes,
        query: Mapping[str, str],
        secret: Mapping[str, str] | None,
    ) -> HandshakeAnswer | None:
        """
        Echo a ``url_verification`` challenge, or acknowledge an
        ``ssl_check``.

        :param method: the HTTP method; only POST is a handshake.
        :param headers: the request headers.
        :param body: the raw request body.
        :param query: unused.
        :param secret: the ``slack_signing_secret`` fields: when given, only
            a request with a good signature is answered.
        """
        if method.upper() != "POST":
            return None
        if secret is not None and _signature(headers, body, secret) != VERIFIED:
            return None
        if content_type(headers) == FORM:
            try:
                form = load_form(body)
            except ParseError:
                return None
            if form.get("ssl_check") == "1":
                return HandshakeAnswer(200, b"", "text/plain")
            return None
        payload = maybe_json(body)
        challenge = text(payload, "challenge")
        if text(payload, "type") != "url_verification" or challenge is None:
            return None
        return HandshakeAnswer(200, to_bytes(challenge), "text/plain")

    def delivery_id(self, headers: Headers, body: bytes) -> str | None:
        """
        The Events API ``event_id``; other requests carry none.

        :param headers: the request headers.
        :param body: the raw request body.
        """
        if content_type(headers) == FORM:
            return None
        return text(maybe_json(body), "event_id")

    def parse(self, headers: Headers, body: bytes) -> WebhookContext:
        """
        Read an Events API callback, a slash command or an interaction.

        :param headers: the request headers.
        :param body: the raw JSON or form body.
        :raises ParseError: if the body is none of those.
        """
        if content_type(headers) != FORM:
            return _event(load_json(body))
        form = load_form(body)
        if "payload" in form:
            return _interaction(load_json(form["payload"]))
        if form.get("command"):
            return _command(form)
        raise ParseError("the form body is neither a slash command nor a payload")


def _signature(headers: Headers, body: bytes, secret: Mapping[str, str]) -> Verdict:
    """
    Check the signature alone, leaving the time window to the caller.
    """
    stamp = headers.get("x-slack-request-timestamp")
    if not stamp:
        return MISSING_SIGNATURE
    return hmac_verdict(
        secret,
        "secret",
        headers.get("x-slack-signature"),
        b"v0:" + to_bytes(stamp) + b":" + body,
        lambda digest: "v0=" + digest.hex(),
    )


def _event(payload: dict[str, Any]) -> WebhookContext:
    kind = text(payload, "type")
    if kind is None:
        raise ParseError("the body has no type")
    inner = obj(payload, "event")
    if kind != "event_callback" or inner is None:
        return WebhookContext(
            provider="slack", event=kind, org=text(payload, "team_id")
        )
    event = text(inner, "type")
    if event is None:
        raise ParseError("the event has no type")
    channel = (
        text(inner, "channel")
        or text(inner, "channel", "id")
        or text(inner, "item", "channel")
    )
    user = text(inner, "user") or text(inner, "user", "id")
    return WebhookContext(
        provider="slack",
        event=event,
        action=text(inner, "subtype"),
        org=text(payload, "team_id"),
        body=text(inner, "text"),
        author=user,
        sender=user,
        timestamp=iso(epoch(payload.get("event_time"))),
        extras=compact(
            eventId=text(payload, "event_id"),
            apiAppId=text(payload, "api_app_id"),
            channel=channel,
            ts=text(inner, "ts"),
            threadTs=text(inner, "thread_ts"),
        ),
    )


def _command(form: dict[str, str]) -> WebhookContext:
    return WebhookContext(
        provider="slack",
        event="slash_command",
        org=form.get("team_id") or None,
        body=form.get("text") or None,
        author=form.get("user_id") or None,
        sender=form.get("user_name") or None,
        extras=compact(
            command=form["command"],
            channel=form.get("channel_id") or None,
            channelName=form.get("channel_name") or None,
            responseUrl=form.get("response_url") or None,
            triggerId=form.get("trigger_id") or None,
        ),
    )


def _interaction(payload: dict[str, Any]) -> WebhookContext:
    kind = text(payload, "type")
    if kind is None:
        raise ParseError("the interaction payload has no type")
    actions = [
        name
        for action in items(payload, "actions")
        if (name := text(action, "action_id"))
    ]
    return WebhookContext(
        provider="slack",
        event=kind,
        org=text(payload, "team", "id"),
        author=text(payload, "user", "id"),
        sender=text(payload, "user", "username") or text(payload, "user", "name"),
        extras=compact(
            channel=text(payload, "channel", "id"),
            channelName=text(payload, "channel", "name"),
            callbackId=(
                text(payload, "callback_id") or text(payload, "view", "callback_id")
            ),
            actionIds=actions or None,
            responseUrl=text(payload, "response_url"),
            triggerId=text(payload, "trigger_id"),
        ),
    )


PROVIDER = SlackProvider()
"""
The Slack provider.
"""
