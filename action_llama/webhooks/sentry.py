"""
Sentry integration-platform webhooks.

Sentry signs the raw body: ``Sentry-Hook-Signature`` is the hex HMAC-SHA256
of the body under the integration's client secret.  ``Sentry-Hook-Resource``
names what the delivery is about (``issue``, ``error``, ``event_alert``,
``metric_alert``, ``comment``, ``installation``, ...); it is both the
context's ``event`` and its ``resource`` extra.  ``Request-ID`` is the
delivery id.  ``Sentry-Hook-Timestamp`` (seconds) is not covered by the
signature, so it only gives the context's ``timestamp``; no time window is
enforced on it.

The organization and project slugs are read from the subject's objects
where present, otherwise from its URLs (``/organizations/<org>/...``,
``/projects/<org>/<project>/...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._model import (
    ORG_FILTERS,
    Headers,
    NoHandshake,
    ParseError,
    Verdict,
    WebhookContext,
)
from ._payload import (
    compact,
    epoch,
    hmac_verdict,
    ident,
    iso,
    load_json,
    obj,
    text,
)

_SUBJECTS = {
    "issue": "issue",
    "error": "error",
    "event_alert": "event",
    "metric_alert": "metric_alert",
    "installation": "installation",
}
"""
The key under ``data`` of each resource's subject; other resources (such
as ``comment``) keep their fields in ``data`` itself.
"""

_URL_KEYS = ("web_url", "url", "issue_url", "permalink", "project_url")

_ORG_IN_URL = re.compile(r"/organizations/([^/]+)/")
_PROJECT_IN_URL = re.compile(r"/projects/([^/]+)/([^/]+)/")
_ORG_PROJECT_IN_URL = re.compile(r"/organizations/[^/]+/projects/([^/]+)/")


class SentryProvider(NoHandshake):
    """
    Verify and read Sentry deliveries.
    """

    name = "sentry"
    secret_type = "sentry_client_secret"
    filter_fields = ORG_FILTERS | {"resources", "events", "actions", "projects"}

    def verify(
        self,
        headers: Headers,
        body: bytes,
        secret: Mapping[str, str] | None,
        now: float,
    ) -> Verdict:
        """
        Check ``Sentry-Hook-Signature`` against the ``secret`` field.

        :param headers: the request headers.
        :param body: the raw request body.
        :param secret: the ``sentry_client_secret`` fields, or ``None``.
        :param now: unused: the timestamp is not signed.
        """
        return hmac_verdict(
            secret,
            "secret",
            headers.get("sentry-hook-signature"),
            body,
            bytes.hex,
        )

    def delivery_id(self, headers: Headers, body: bytes) -> str | None:
        """
        The ``Request-ID`` header.

        :param headers: the request headers.
        :param body: unused.
        """
        return headers.get("request-id") or None

    def parse(self, headers: Headers, body: bytes) -> WebhookContext:
        """
        Read a delivery of any resource.

        :param headers: the request headers; ``Sentry-Hook-Resource`` is
            required.
        :param body: the raw JSON body.
        :raises ParseError: if the resource header is missing or the body is
            not a JSON object.
        """
        resource = headers.get("sentry-hook-resource")
        if not resource:
            raise ParseError("the Sentry-Hook-Resource header is missing")
        payload = load_json(body)
        data = obj(payload, "data") or {}
        key = _SUBJECTS.get(resource)
        subject = (obj(data, key) if key else None) or data
        urls = _urls(subject, data)
        return WebhookContext(
            provider=self.name,
            event=resource,
            action=text(payload, "action"),
            org=text(subject, "organization", "slug") or _org(urls),
            title=(
                text(subject, "title")
                or text(data, "description_title")
                or text(subject, "alert_rule", "name")
            ),
            body=(
                text(subject, "culprit")
                or text(data, "description_text")
                or text(data, "comment")
            ),
            url=urls[0] if urls else None,
            sender=text(payload, "actor", "name"),
            timestamp=iso(epoch(headers.get("sentry-hook-timestamp"))),
            extras=compact(
                resource=resource,
                project=(
                    text(subject, "project", "slug")
                    or text(data, "project_slug")
                    or _project(urls)
                ),
                issueId=ident(subject, "issue_id") or ident(data, "issue_id"),
                shortId=text(subject, "shortId"),
                level=text(subject, "level"),
                status=text(subject, "status"),
                triggeredRule=text(data, "triggered_rule"),
                installationId=text(payload, "installation", "uuid"),
            ),
        )


def _urls(subject: dict[str, Any], data: dict[str, Any]) -> list[str]:
    found = [text(subject, key) for key in _URL_KEYS]
    found.append(text(data, "web_url"))
    return [url for url in found if url is not None]


def _org(urls: list[str]) -> str | None:
    for url in urls:
        match = _ORG_IN_URL.search(url) or _PROJECT_IN_URL.search(url)
        if match:
            return match.group(1)
    return None


def _project(urls: list[str]) -> str | None:
    for url in urls:
        match = _ORG_PROJECT_IN_URL.search(url)
        if match:
            return match.group(1)
        match = _PROJECT_IN_URL.search(url)
        if match:
            return match.group(2)
    return None


PROVIDER = SentryProvider()
"""
The Sentry provider.
"""
