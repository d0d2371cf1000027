"""
X (Twitter) Account Activity webhooks.

X proves the endpoint with a CRC check: a GET with ``crc_token`` must be
answered ``{"response_token": "sha256=<base64 HMAC-SHA256 of crc_token under
the consumer secret>"}``.  Each POST is signed the same way:
``X-Twitter-Webhooks-Signature: sha256=<base64 HMAC-SHA256 of the raw body
under the consumer secret>``, with no timestamp.  The consumer secret is the
``consumer_secret`` field of the ``x_twitter_api`` credential.

A delivery carries ``for_user_id`` and one list of events under a key such as
``tweet_create_events``, ``favorite_events``, ``follow_events`` or
``direct_message_events`` (``user_event`` for a revoked authorisation); that
key is the context's ``event``.  X sends no delivery id, so the id is built
from ``for_user_id``, the event key and the first event's own id, when it
has one.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ._model import (
    HandshakeAnswer,
    Headers,
    ParseError,
    Verdict,
    WebhookContext,
)
from ._payload import (
    compact,
    epoch,
    get,
    hmac_sha256,
    hmac_verdict,
    ident,
    iso,
    load_json,
    maybe_json,
    secret_value,
    text,
    to_bytes,
)


def _render(digest: bytes) -> str:
    return "sha256=" + base64.b64encode(digest).decode("ascii")


class TwitterProvider:
    """
    Verify, answer and read X Account Activity deliveries.
    """

    name = "twitter"
    secret_type = "x_twitter_api"
    filter_fields = frozenset({"events", "author"})

    def verify(
        self,
        headers: Headers,
        body: bytes,
        secret: Mapping[str, str] | None,
        now: float,
    ) -> Verdict:
        """
        Check ``X-Twitter-Webhooks-Signature`` against the
        ``consumer_secret`` field.

        :param headers: the request headers.
        :param body: the raw request body.
        :param secret: the ``x_twitter_api`` fields, or ``None``.
        :param now: unused: the scheme has no timestamp.
        """
        return hmac_verdict(
            secret,
            "consumer_secret",
            headers.get("x-twitter-webhooks-signature"),
            body,
            _render,
        )

    def handshake(
        self,
        method: str,
        headers: Headers,
        body: bytes,
        query: Mapping[str, str],
        secret: Mapping[str, str] | None,
    ) -> HandshakeAnswer | None:
        """
        Answer a CRC check.

        :param method: the HTTP method; only GET is a CRC check.
        :param headers: unused.
        :param body: unused.
        :param query: the query arguments; ``crc_token`` is required.
        :param secret: the ``x_twitter_api`` fields.
        :returns: the response token, or ``None`` when the request is not a
            CRC check or there is no consumer secret to answer it with.
        """
        token = query.get("crc_token")
        key = secret_value(secret, "consumer_secret")
        if method.upper() != "GET" or not token or key is None:
            return None
        answer = _render(hmac_sha256(key, to_bytes(token)))
        return HandshakeAnswer.json({"response_token": answer})

    def delivery_id(self, headers: Headers, body: bytes) -> str | None:
        """
        ``<for_user_id>:<event key>:<first event id>``, or ``None`` when the
        delivery has no such parts.

        :param headers: the request headers.
        :param body: the raw request body.
        """
        payload = maybe_json(body)
        key = None if payload is None else _event_key(payload)
        if payload is None or key is None:
            return None
        user = ident(payload, "for_user_id")
        first = _first(payload, key)
        event_id = (
            ident(first, "id_str") or ident(first, "id") or ident(first, "status", "id")
        )
        if user is None or event_id is None:
            return None
        return f"{user}:{key}:{event_id}"

    def parse(self, headers: Headers, body: bytes) -> WebhookContext:
        """
        Read an Account Activity delivery.

        :param headers: the request headers.
        :param body: the raw JSON body.
        :raises ParseError: if the body is not a JSON object holding an
            event list.
        """
        payload = load_json(body)
        key = _event_key(payload)
        if key is None:
            raise ParseError("the body holds no Account Activity event")
        first = _first(payload, key)
        author = _author(payload, first)
        tweet_id = ident(first, "id_str")
        url = None
        if key == "tweet_create_events" and author and tweet_id:
            url = f"https://x.com/{author}/status/{tweet_id}"
        sent = epoch(get(first, "timestamp_ms") or get(first, "created_timestamp"))
        return WebhookContext(
            provider=self.name,
            event=key,
            body=(
                text(first, "extended_tweet", "full_text")
                or text(first, "text")
                or text(first, "favorited_status", "text")
                or text(first, "message_create", "message_data", "text")
            ),
            url=url,
            author=author,
            sender=author,
            timestamp=iso(None if sent is None else sent / 1000),
            extras=compact(
                forUserId=ident(payload, "for_user_id"),
                tweetId=tweet_id,
                target=text(first, "target", "screen_name"),
            ),
        )


def _event_key(payload: dict[str, Any]) -> str | None:
    return next(
        (key for key in payload if key.endswith("_events") or key == "user_event"),
        None,
    )


def _first(payload: dict[str, Any], key: str) -> Any:
    value = payload[key]
    return get(value, 0) if isinstance(value, list) else value


def _author(payload: dict[str, Any], first: Any) -> str | None:
    sender_id = ident(first, "message_create", "sender_id")
    return (
        text(first, "user", "screen_name")
        or text(first, "source", "screen_name")
        or (text(payload, "users", sender_id, "screen_name") if sender_id else None)
        or sender_id
    )


PROVIDER = TwitterProvider()
"""
The X (Twitter) provider.
"""
