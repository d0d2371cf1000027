"""
Malformed deliveries against the real gateway: whatever arrives (truncated
JSON, wrong content types, form encoding, huge or odd headers, bodies that
are not UTF-8, random bytes, signed or not), the answer is 2xx or 4xx, never
5xx, and the service keeps answering ``/health``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest_twisted
import treq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import blockingCallFromThread, deferToThread
from twisted.web.client import ResponseFailed
from twisted.web.http_headers import Headers

from .harness import within
from .webhook_harness import (
    DISCORD_KEY,
    FIXTURES,
    PROVIDERS,
    SECRETS,
    Gateway,
    Services,
    all_providers_project,
    b64_hmac,
    hex_hmac,
    store_all_secrets,
)

#: Every provider fixture, whole.
FIXTURE_BODIES = [
    path.read_bytes()
    for path in sorted(FIXTURES.glob("*/*"))
    if path.suffix in (".json", ".form")
]

PATHS = [
    f"/webhooks/{p}{suffix}" for p in PROVIDERS for suffix in ("", "-signed", "-open")
] + ["/webhooks/unknown-source", "/webhooks/" + "x" * 300]

#: The headers the providers read, lower-cased.
PROVIDER_HEADERS = [
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

CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/x-www-form-urlencoded",
    "APPLICATION/X-WWW-FORM-URLENCODED; charset=utf-8",
    "multipart/form-data; boundary=xyz",
    "text/plain",
    "application/octet-stream",
    ";",
    "",
]

EVENTS = ["issues", "push", "ping", "issue", "error", "Issue", "event_callback"]


def latin1_text(max_size: int, exclude: str = "") -> st.SearchStrategy[str]:
    """
    Header-safe text: any Latin-1 character but controls and ``exclude``.
    """
    return st.text(
        st.characters(
            min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f" + exclude
        ),
        max_size=max_size,
    )


def header_values() -> st.SearchStrategy[str]:
    """
    Values a header might carry: odd text, numbers, signature-shaped
    strings, nothing, and long runs.
    """
    return st.one_of(
        latin1_text(80),
        st.sampled_from(EVENTS + CONTENT_TYPES),
        st.integers(-(10**20), 10**20).map(str),
        st.binary(max_size=40).map(lambda b: "sha256=" + b.hex()),
        st.binary(max_size=40).map(lambda b: "v0=" + b.hex()),
        st.binary(max_size=64).map(bytes.hex),
        st.integers(0, 4000).map(lambda n: "9" * n),
    )


#: Keys the providers look for in a body.
KEYS = [
    "type",
    "action",
    "event",
    "event_id",
    "challenge",
    "id",
    "data",
    "payload",
    "repository",
    "full_name",
    "number",
    "labels",
    "name",
    "webhookTimestamp",
    "for_user_id",
    "tweet_create_events",
    "user_event",
    "team_id",
    "guild_id",
    "options",
    "command",
]


def json_values() -> st.SearchStrategy[Any]:
    """
    Any JSON value, NaN and infinities included.
    """
    return st.recursive(
        st.none()
        | st.booleans()
        | st.floats()
        | st.integers()
        | st.text(max_size=20)
        | st.sampled_from(EVENTS),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5
            )
        ),
        max_leaves=20,
    )


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """
    A body: random bytes, a real payload cut short or with bytes that are
    not UTF-8, a form, any JSON value, or deeply nested JSON.
    """
    kind = draw(st.sampled_from(["bytes", "cut", "not-utf8", "form", "json", "nested"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2048))
    if kind == "nested":
        depth = draw(st.integers(1, 100_000))
        return b"[" * depth + b"]" * draw(st.integers(0, depth))
    if kind == "json":
        return json.dumps(draw(json_values())).encode()
    if kind == "form":
        fields = draw(
            st.dictionaries(
                st.sampled_from(["payload", "command", "ssl_check", "text", "type"])
                | st.text(max_size=8),
                st.text(max_size=40)
                | json_values().map(json.dumps)
                | st.sampled_from(["1", "/deploy"]),
                max_size=4,
            )
        )
        return urlencode(fields).encode()
    fixture = draw(st.sampled_from(FIXTURE_BODIES))
    if kind == "cut":
        return fixture[: draw(st.integers(0, len(fixture) - 1))]
    at = draw(st.integers(0, len(fixture)))
    return (
        fixture[:at]
        + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"]))
        + fixture[at:]
    )


def signature_headers(provider: str, body: bytes) -> dict[str, str]:
    """
    The headers that make ``body`` verify for ``provider``'s signed test
    source, signed now.
    """
    stamp = str(int(time.time()))
    secret = SECRETS[provider]
    if provider == "github":
        return {"x-hub-signature-256": "sha256=" + hex_hmac(secret["secret"], body)}
    if provider == "slack":
        signed = b"v0:" + stamp.encode() + b":" + body
        return {
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": "v0=" + hex_hmac(secret["secret"], signed),
        }
    if provider == "discord":
        signature = DISCORD_KEY.sign(stamp.encode() + body).hex()
        return {"x-signature-timestamp": stamp, "x-signature-ed25519": signature}
    if provider == "twitter":
        return {
            "x-twitter-webhooks-signature": b64_hmac(secret["consumer_secret"], body)
        }
    header = {
        "sentry": "sentry-hook-signature",
        "linear": "linear-signature",
        "mintlify": "x-mintlify-signature",
    }[provider]
    return {header: hex_hmac(secret["secret"], body)}


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes]:
    """
    A request to a webhook route: method, path, headers and body, the body
    often correctly signed for the path's provider so that it reaches the
    parser.
    """
    path = draw(st.sampled_from(PATHS))
    method = draw(st.sampled_from(["POST"] * 8 + ["GET", "PUT"]))
    query = draw(st.sampled_from(["", "?crc_token=abc", "?crc_token=", "?a=%ff"]))
    body = draw(bodies())
    content_type = st.sampled_from(CONTENT_TYPES) | latin1_text(40)
    headers = {"content-type": draw(content_type)}
    headers.update(
        draw(
            st.dictionaries(
                st.sampled_from(PROVIDER_HEADERS[1:]), header_values(), max_size=6
            )
        )
    )
    headers.update(
        draw(
            st.dictionaries(
                st.from_regex(r"\Ax-[a-z0-9-]{1,20}\Z"), header_values(), max_size=3
            )
        )
    )
    provider = path.removeprefix("/webhooks/").split("-")[0]
    if provider in PROVIDERS and draw(st.booleans()):
        headers.update(signature_headers(provider, body))
    return method, path + query, headers, body


@pytest_twisted.async_yield_fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    """
    The all-providers project with every secret stored, started for one
    test and stopped after it.
    """
    store_all_secrets()
    services = Services(tmp_path)
    yield await services.start(all_providers_project(tmp_path / "p"))
    await services.stop_all()


async def answer_to(
    gateway: Gateway, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> tuple[int, bytes]:
    """
    Send one request with its headers as raw Latin-1 bytes.

    :returns: the status and the body of the answer.
    """
    response = await within(
        treq.request(
            method,
            gateway.url + path,
            data=body,
            headers=Headers(
                {k.encode("latin-1"): [v.encode("latin-1")] for k, v in headers.items()}
            ),
        ),
        f"{method} {path}",
    )
    return response.code, await within(response.content(), "the body")


async def health(gateway: Gateway) -> int:
    """
    The status of ``GET /health``.
    """
    response = await within(treq.get(gateway.url + "/health"), "/health")
    await response.content()
    return int(response.code)


@pytest_twisted.ensureDeferred
async def test_malformed_deliveries_never_get_a_5xx(gateway: Gateway) -> None:
    """
    No request to a webhook route, however malformed, gets a 5xx or a
    traceback, and ``/health`` still answers afterwards.
    """

    def answer(request: tuple[str, str, dict[str, str], bytes]) -> tuple[int, bytes]:
        def send() -> Deferred[tuple[int, bytes]]:
            return Deferred.fromCoroutine(answer_to(gateway, *request))

        # mypy cannot solve the result type through the union in the stub.
        result: tuple[int, bytes] = blockingCallFromThread(
            IReactorFromThreads(reactor),
            send,  # type: ignore[arg-type]
        )
        return result

    codes: list[int] = []

    # Hypothesis drives the examples from a thread of its own, and each
    # request is made on the reactor, which this test leaves running.
    @settings(
        max_examples=400,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests())
    def check(request: tuple[str, str, dict[str, str], bytes]) -> None:
        code, body = answer(request)
        codes.append(code)
        assert 200 <= code < 500, (code, body)
        assert b"Traceback" not in body

    await within(deferToThread(check), "the examples", timeout=280)
    assert await health(gateway) == 200
    # The examples reached every stage: refused, unparseable or matched.
    assert {200, 401, 404} <= set(codes), sorted(set(codes))


@pytest_twisted.ensureDeferred
async def test_oversized_headers_get_a_4xx(gateway: Gateway) -> None:
    """
    Headers beyond what the server reads get a 4xx (or the connection is
    closed), and ``/health`` still answers.
    """
    headers = {f"x-big-{n}": "a" * 8000 for n in range(4)}
    headers["x-github-event"] = "push"
    try:
        code, _ = await answer_to(gateway, "POST", "/webhooks/github", headers, b"{}")
    except ResponseFailed:
        code = 400
    assert 400 <= code < 500
    assert await health(gateway) == 200


@pytest_twisted.ensureDeferred
async def test_body_over_ten_mebibytes_is_413(gateway: Gateway) -> None:
    """
    A body over 10 MiB gets 413, and ``/health`` still answers.
    """
    body = b"{" + b" " * (10 * 1024 * 1024) + b"}"
    headers = {"content-type": "application/json", "x-github-event": "push"}
    code, answer = await answer_to(gateway, "POST", "/webhooks/github", headers, body)
    assert code == 413, answer
    assert "error" in json.loads(answer)
    assert await health(gateway) == 200


@pytest_twisted.ensureDeferred
async def test_content_type_holding_a_next_line_is_answered(gateway: Gateway) -> None:
    """
    A Content-Type holding a NEL character (0x85) between other characters
    gets an answer, not a connection closed unanswered, and never a 5xx.
    """
    headers = {"content-type": "application/json\x85x", "x-github-event": "push"}
    code, _ = await answer_to(gateway, "POST", "/webhooks/github-open", headers, b"{}")
    assert code < 500
