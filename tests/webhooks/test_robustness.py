"""
Property tests: whatever arrives, ``parse`` raises nothing but
``ParseError``, and ``verify``, ``handshake`` and ``delivery_id`` never raise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from action_llama.config import WEBHOOK_FILTER_KEYS, WebhookTrigger
from action_llama.webhooks import (
    PROVIDERS,
    HandshakeAnswer,
    ParseError,
    Verdict,
    discord_deferred_response,
    matches,
)

from .support import FIXTURES, NOW, SECRETS, sign

SAMPLE_BODIES = sorted(
    path.read_bytes() for path in FIXTURES.glob("*/*") if path.suffix != ".md"
)

PAYLOAD_KEYS = [
    "type",
    "action",
    "event",
    "data",
    "issue",
    "pull_request",
    "repository",
    "full_name",
    "organization",
    "owner",
    "login",
    "labels",
    "name",
    "user",
    "member",
    "base",
    "ref",
    "ref_type",
    "check_run",
    "check_suite",
    "workflow_run",
    "pull_requests",
    "number",
    "url",
    "web_url",
    "project",
    "slug",
    "channel",
    "team_id",
    "event_id",
    "event_time",
    "challenge",
    "id",
    "guild_id",
    "token",
    "options",
    "for_user_id",
    "tweet_create_events",
    "direct_message_events",
    "users",
    "message_create",
    "sender_id",
    "webhookTimestamp",
    "createdAt",
    "timestamp",
    "timestamp_ms",
]
"""
Keys the parsers look for, so random JSON reaches their deeper paths.
"""

HEADER_NAMES = [
    "content-type",
    "x-github-event",
    "x-github-delivery",
    "x-hub-signature-256",
    "sentry-hook-resource",
    "sentry-hook-signature",
    "sentry-hook-timestamp",
    "request-id",
    "linear-signature",
    "linear-delivery",
    "x-mintlify-signature",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "x-signature-ed25519",
    "x-signature-timestamp",
    "x-twitter-webhooks-signature",
]

any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    any_text,
    st.sampled_from(["issue", "1716199200000", "refs/heads/main", "event_callback"]),
)

json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(PAYLOAD_KEYS) | st.text(max_size=6), children, max_size=6
        ),
    ),
    max_leaves=25,
)

structured = st.dictionaries(
    st.sampled_from(PAYLOAD_KEYS), json_values, min_size=1, max_size=8
).map(lambda value: json.dumps(value).encode())

truncated = st.sampled_from(SAMPLE_BODIES).flatmap(
    lambda body: st.integers(0, len(body)).map(lambda end: body[:end])
)

bodies = st.one_of(st.binary(max_size=200), truncated, structured)

headers = st.dictionaries(
    st.sampled_from(HEADER_NAMES) | any_text,
    st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "1716199200"]
    )
    | any_text,
    max_size=6,
)

secrets = st.one_of(
    st.none(),
    st.sampled_from(list(SECRETS.values())),
    st.dictionaries(
        st.sampled_from(["secret", "public_key", "consumer_secret"]), any_text
    ),
)

providers = st.sampled_from(sorted(PROVIDERS))

fast = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

WINDOWED = {"linear", "slack"}
"""
The providers whose verified deliveries may still be ``stale``.
"""

EVERY_FILTER = WebhookTrigger("src", {key: ("x",) for key in WEBHOOK_FILTER_KEYS})


@fast
@given(providers, headers, bodies)
def test_parse_raises_only_parse_error(
    provider: str, request_headers: Mapping[str, str], body: bytes
) -> None:
    """
    ``parse`` of any headers and body returns a context or raises
    ``ParseError``, and whatever it returns can be matched and serialised.
    """
    try:
        context = PROVIDERS[provider].parse(request_headers, body)
    except ParseError:
        return
    assert context.provider == provider
    json.dumps(context.to_json())
    matches(EVERY_FILTER, context)
    discord_deferred_response(context)


@fast
@given(providers, headers, bodies, secrets, st.floats(allow_nan=True))
def test_verify_never_raises(
    provider: str,
    request_headers: Mapping[str, str],
    body: bytes,
    secret: Mapping[str, str] | None,
    now: float,
) -> None:
    """
    ``verify`` of anything returns a verdict, never ok with a bad reason.
    """
    verdict = PROVIDERS[provider].verify(request_headers, body, secret, now)
    assert isinstance(verdict, Verdict)
    assert verdict.ok is (verdict.reason in (None, "unsigned"))


@fast
@given(
    providers,
    st.sampled_from(["GET", "POST", "get", "PUT"]),
    headers,
    bodies,
    st.dictionaries(st.sampled_from(["crc_token"]) | any_text, any_text),
    secrets,
)
def test_handshake_and_delivery_id_never_raise(
    provider: str,
    method: str,
    request_headers: Mapping[str, str],
    body: bytes,
    query: Mapping[str, str],
    secret: Mapping[str, str] | None,
) -> None:
    """
    ``handshake`` and ``delivery_id`` of anything return an answer or id, or
    ``None``.
    """
    plugin = PROVIDERS[provider]
    answer: Any = plugin.handshake(method, request_headers, body, query, secret)
    assert answer is None or isinstance(answer, HandshakeAnswer)
    delivery = plugin.delivery_id(request_headers, body)
    assert delivery is None or isinstance(delivery, str)


@fast
@given(providers, bodies, st.integers(min_value=0, max_value=2**40))
def test_signed_anything_verifies_or_is_stale(
    provider: str, body: bytes, sent: int
) -> None:
    """
    Any body correctly signed at any time verifies, or for timestamped
    schemes is ``stale``; the checks after the signature never raise.
    """
    request_headers = sign(provider, body, now=float(sent))
    verdict = PROVIDERS[provider].verify(request_headers, body, SECRETS[provider], NOW)
    allowed = {None, "stale"} if provider in WINDOWED else {None}
    assert verdict.reason in allowed
