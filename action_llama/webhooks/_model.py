"""
The shapes every provider shares: the verdict on a signature, the answer to
a handshake, the parsed context of a delivery, and the provider interface.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol

from attrs import field, frozen

Headers = Mapping[str, str]
"""
Request headers: lower-cased names to values; the caller normalises them.
"""

ORG_FILTERS = frozenset({"orgs", "org", "organizations"})
"""
The ``[[webhooks]]`` filter keys that all compare the organization.
"""


class ParseError(ValueError):
    """
    A body that cannot be read as a delivery of its provider.
    """


@frozen
class Verdict:
    """
    The outcome of checking a delivery's signature.

    :ivar ok: whether the delivery may be processed.
    :ivar reason: ``None`` when the signature verified; ``"unsigned"`` when
        no secret was given, so nothing was checked (the caller decides
        whether unsigned deliveries are accepted); otherwise why it failed:
        ``"missing_signature"``, ``"bad_signature"`` or ``"stale"``.
    """

    ok: bool
    reason: str | None = None


VERIFIED = Verdict(True)
UNSIGNED = Verdict(True, "unsigned")
MISSING_SIGNATURE = Verdict(False, "missing_signature")
BAD_SIGNATURE = Verdict(False, "bad_signature")
STALE = Verdict(False, "stale")


@frozen
class HandshakeAnswer:
    """
    The response to send at once to a provider's challenge.

    :ivar code: the HTTP status code.
    :ivar body: the response body.
    :ivar content_type: the value of the ``Content-Type`` header.
    """

    code: int
    body: bytes
    content_type: str

    @classmethod
    def json(cls, value: Mapping[str, Any]) -> HandshakeAnswer:
        """
        A 200 answer carrying ``value`` as JSON.

        :param value: the JSON object to send.
        """
        return cls(200, json.dumps(value).encode("ascii"), "application/json")


def _read_only(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@frozen
class WebhookContext:
    """
    What a delivery is about, in the same terms for every provider.

    Fields a provider has no value for are ``None`` (``labels`` is empty).
    Values agents would filter on but that have no field of their own (a
    Sentry resource, a Slack channel, a Discord command) live in ``extras``,
    under camelCase keys, as they appear in the JSON form.

    :ivar provider: the provider's name, such as ``"github"``.
    :ivar event: the kind of delivery, such as ``"pull_request"``.
    :ivar source: the name of the ``[webhooks.<source>]`` it came through;
        the caller sets it.
    :ivar action: what happened to the subject, such as ``"opened"``.
    :ivar repo: the repository, ``"owner/name"``.
    :ivar org: the organization (or workspace, or team).
    :ivar number: the issue or pull request number.
    :ivar title: the subject's title.
    :ivar body: the subject's text.
    :ivar url: where a person can look at the subject.
    :ivar author: who wrote the subject.
    :ivar labels: the subject's labels.
    :ivar assignee: who the subject is assigned to.
    :ivar branch: the branch concerned.
    :ivar conclusion: the result of a finished check or workflow.
    :ivar sender: who caused the delivery.
    :ivar timestamp: when the provider says it happened, ISO 8601; ``None``
        when the delivery does not say (the caller may fill in the time of
        receipt).
    :ivar receipt_id: the id of the stored receipt; the caller sets it.
    :ivar extras: provider-specific values, JSON-serialisable.
    """

    provider: str
    event: str
    source: str | None = None
    action: str | None = None
    repo: str | None = None
    org: str | None = None
    number: int | None = None
    title: str | None = None
    body: str | None = None
    url: str | None = None
    author: str | None = None
    labels: tuple[str, ...] = ()
    assignee: str | None = None
    branch: str | None = None
    conclusion: str | None = None
    sender: str | None = None
    timestamp: str | None = None
    receipt_id: str | None = None
    extras: Mapping[str, Any] = field(factory=dict, converter=_read_only, hash=False)

    def to_json(self) -> dict[str, Any]:
        """
        The context as the JSON object agents and clients read, with
        camelCase keys (``receiptId``).
        """
        return {
            "source": self.source,
            "provider": self.provider,
            "event": self.event,
            "action": self.action,
            "repo": self.repo,
            "org": self.org,
            "number": self.number,
            "title": self.title,
            "body": self.body,
            "url": self.url,
            "author": self.author,
            "labels": list(self.labels),
            "assignee": self.assignee,
            "branch": self.branch,
            "conclusion": self.conclusion,
            "sender": self.sender,
            "timestamp": self.timestamp,
            "receiptId": self.receipt_id,
            "extras": dict(self.extras),
        }


class Provider(Protocol):
    """
    One webhook provider: how its deliveries are signed, answered and read.

    Every method takes the raw body, byte for byte, and never blocks.  Only
    `parse` raises, and only `ParseError`.
    """

    name: str
    """
    The provider's name: the ``type`` of a ``[webhooks.<source>]`` table.
    """

    secret_type: str
    """
    The credential type holding the provider's secret.
    """

    filter_fields: frozenset[str]
    """
    The ``[[webhooks]]`` filter keys that can match its deliveries.
    """

    def verify(
        self,
        headers: Headers,
        body: bytes,
        secret: Mapping[str, str] | None,
        now: float,
    ) -> Verdict:
        """
        Check a delivery's signature, in constant time.

        :param headers: the request headers.
        :param body: the raw request body.
        :param secret: the credential's fields, or ``None`` when the source
            has no credential.  A credential lacking the needed field
            verifies nothing: the verdict is ``"bad_signature"``.
        :param now: the current time, in seconds since the epoch, for
            timestamped schemes.
        :returns: the verdict; ``"unsigned"`` (and ok) when ``secret`` is
            ``None``.
        """

    def handshake(
        self,
        method: str,
        headers: Headers,
        body: bytes,
        query: Mapping[str, str],
        secret: Mapping[str, str] | None,
    ) -> HandshakeAnswer | None:
        """
        Answer the provider's challenge, if the request is one.

        A handshake sent by POST is signed like any delivery: when
        ``secret`` is given, only one whose signature checks out is
        answered (so a forged one falls through to `verify` and is
        refused).  Time windows are left to `verify`.

        :param method: the HTTP method.
        :param headers: the request headers.
        :param body: the raw request body.
        :param query: the query arguments, one value each.
        :param secret: the credential's fields, or ``None``.
        :returns: the answer to send, or ``None`` when the request is not a
            handshake this provider can answer.
        """

    def delivery_id(self, headers: Headers, body: bytes) -> str | None:
        """
        The provider's own id for a delivery, which its retries repeat.

        :param headers: the request headers.
        :param body: the raw request body.
        :returns: the id, or ``None`` when the delivery carries none.
        """

    def parse(self, headers: Headers, body: bytes) -> WebhookContext:
        """
        Read a verified delivery into a context.

        :param headers: the request headers.
        :param body: the raw request body.
        :raises ParseError: if the body is not a delivery of this provider.
        """


class NoHandshake:
    """
    For providers that have no handshake: every request is a delivery.
    """

    def handshake(
        self,
        method: str,
        headers: Headers,
        body: bytes,
        query: Mapping[str, str],
        secret: Mapping[str, str] | None,
    ) -> HandshakeAnswer | None:
        """
        :returns: ``None``: there is nothing to answer before verifying.
        """
        return None
