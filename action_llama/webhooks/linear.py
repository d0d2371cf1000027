"""
Linear webhooks.

Linear signs the raw body: ``Linear-Signature`` is the hex HMAC-SHA256 of the
body under the webhook's signing secret.  The body's ``webhookTimestamp``
(milliseconds since the epoch) is covered by that signature; Linear asks
receivers to refuse deliveries more than a minute from their own clock, so
a verified delivery outside 60 seconds is ``stale``.  ``Linear-Delivery`` is
the delivery id.  The context's ``event`` is the body's ``type`` (``Issue``,
``Comment``, ``IssueLabel``, ...) and ``action`` its ``action`` (``create``,
``update``, ``remove``).

The author is the subject's creator (or a comment's user); Linear names
no creator in an issue's data, so for a ``create`` it is the actor.  The
workspace's url key (``https://linear.app/<org>/...``) is the context's
``org``; its ``organizationId`` is kept in the extras and matches the org
filters too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._model import (
    ORG_FILTERS,
    STALE,
    VERIFIED,
    Headers,
    NoHandshake,
    ParseError,
    Verdict,
    WebhookContext,
)
from ._payload import (
    compact,
    epoch,
    get,
    hmac_verdict,
    integer,
    iso,
    load_json,
    maybe_json,
    names,
    obj,
    text,
    within,
)

WINDOW = 60.0
"""
How far, in seconds, ``webhookTimestamp`` may be from our clock.
"""

_ORG_IN_URL = re.compile(r"https://linear\.app/([^/]+)/")


class LinearProvider(NoHandshake):
    """
    Verify and read Linear deliveries.
    """

    name = "linear"
    secret_type = "linear_webhook_secret"
    filter_fields = ORG_FILTERS | {
        "events",
        "actions",
        "labels",
        "assignee",
        "author",
        "projects",
    }

    def verify(
        self,
        headers: Headers,
        body: bytes,
        secret: Mapping[str, str] | None,
        now: float,
    ) -> Verdict:
        """
        Check ``Linear-Signature`` against the ``secret`` field, then the
        signed ``webhookTimestamp`` against ``now``.

        :param headers: the request headers.
        :param body: the raw request body.
        :param secret: the ``linear_webhook_secret`` fields, or ``None``.
        :param now: the current time, in seconds since the epoch.
        :returns: ``stale`` for a good signature on a body whose timestamp
            is missing or more than `WINDOW` seconds away.
        """
        verdict = hmac_verdict(
            secret, "secret", headers.get("linear-signature"), body, bytes.hex
        )
        if verdict != VERIFIED:
            return verdict
        sent = epoch(get(maybe_json(body), "webhookTimestamp"))
        if sent is None or not within(now, sent / 1000, WINDOW):
            return STALE
        return VERIFIED

    def delivery_id(self, headers: Headers, body: bytes) -> str | None:
        """
        The ``Linear-Delivery`` header.

        :param headers: the request headers.
        :param body: unused.
        """
        return headers.get("linear-delivery") or None

    def parse(self, headers: Headers, body: bytes) -> WebhookContext:
        """
        Read a data-change delivery.

        :param headers: the request headers.
        :param body: the raw JSON body.
        :raises ParseError: if the body is not a JSON object with a ``type``.
        """
        payload = load_json(body)
        event = text(payload, "type")
        if event is None:
            raise ParseError("the body has no type")
        action = text(payload, "action")
        data = obj(payload, "data") or {}
        url = text(payload, "url") or text(data, "url")
        org = _ORG_IN_URL.match(url) if url else None
        sent = epoch(payload.get("webhookTimestamp"))
        return WebhookContext(
            provider=self.name,
            event=event,
            action=action,
            org=org.group(1) if org else None,
            number=integer(data, "number"),
            title=(
                text(data, "title")
                or text(data, "issue", "title")
                or text(data, "name")
            ),
            body=text(data, "description") or text(data, "body"),
            url=url,
            author=(
                text(data, "creator", "name")
                or text(data, "user", "name")
                or (text(payload, "actor", "name") if action == "create" else None)
            ),
            labels=names(data, "labels"),
            assignee=text(data, "assignee", "name"),
            sender=text(payload, "actor", "name"),
            timestamp=(
                text(payload, "createdAt") or iso(None if sent is None else sent / 1000)
            ),
            extras=compact(
                organizationId=text(payload, "organizationId"),
                identifier=(
                    text(data, "identifier") or text(data, "issue", "identifier")
                ),
                team=text(data, "team", "key"),
                project=(
                    text(data, "project", "name")
                    or (text(data, "name") if event == "Project" else None)
                ),
                state=text(data, "state", "name"),
            ),
        )


PROVIDER = LinearProvider()
"""
The Linear provider.
"""
