"""
Mintlify webhooks.

Our reading of the scheme: Mintlify publishes no signing specification we
could confirm, so this follows what the original tool accepted and what the
other HMAC providers do.  ``X-Mintlify-Signature`` is the hex HMAC-SHA256 of
the raw body under the webhook secret; a ``sha256=`` prefix, as GitHub
writes it, is accepted too.  The scheme has no timestamp, so no time window
applies, and no delivery id is known, so deliveries are not deduplicated.

The body is a JSON object read field by field: ``event`` (or ``type``) is
required; ``action`` (or ``status``), ``project`` (or ``subdomain``),
``branch``, ``title``, ``message``, ``url`` and ``timestamp`` are used when
present.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._model import (
    Headers,
    NoHandshake,
    ParseError,
    Verdict,
    WebhookContext,
)
from ._payload import compact, epoch, get, hmac_verdict, iso, load_json, text


class MintlifyProvider(NoHandshake):
    """
    Verify and read Mintlify deliveries.
    """

    name = "mintlify"
    secret_type = "mintlify_webhook_secret"
    filter_fields = frozenset({"events", "actions", "projects", "branches"})

    def verify(
        self,
        headers: Headers,
        body: bytes,
        secret: Mapping[str, str] | None,
        now: float,
    ) -> Verdict:
        """
        Check ``X-Mintlify-Signature`` against the ``secret`` field.

        :param headers: the request headers.
        :param body: the raw request body.
        :param secret: the ``mintlify_webhook_secret`` fields, or ``None``.
        :param now: unused: the scheme has no timestamp.
        """
        given = headers.get("x-mintlify-signature")
        return hmac_verdict(
            secret,
            "secret",
            given.removeprefix("sha256=") if given else None,
            body,
            bytes.hex,
        )

    def delivery_id(self, headers: Headers, body: bytes) -> str | None:
        """
        Mintlify deliveries carry no id we know of.

        :returns: ``None``.
        """
        return None

    def parse(self, headers: Headers, body: bytes) -> WebhookContext:
        """
        Read a delivery.

        :param headers: the request headers.
        :param body: the raw JSON body.
        :raises ParseError: if the body is not a JSON object with an
            ``event`` or ``type``.
        """
        payload = load_json(body)
        event = text(payload, "event") or text(payload, "type")
        if event is None:
            raise ParseError("the body has no event or type")
        return WebhookContext(
            provider=self.name,
            event=event,
            action=text(payload, "action") or text(payload, "status"),
            title=text(payload, "title"),
            body=text(payload, "message"),
            url=text(payload, "url"),
            branch=text(payload, "branch"),
            timestamp=(
                text(payload, "timestamp") or iso(epoch(get(payload, "timestamp")))
            ),
            extras=compact(
                project=text(payload, "project") or text(payload, "subdomain")
            ),
        )


PROVIDER = MintlifyProvider()
"""
The Mintlify provider.
"""
