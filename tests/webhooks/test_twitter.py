"""
Tests for the X (Twitter) Account Activity provider: the CRC check, POST
signatures and the event lists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from action_llama.webhooks import PROVIDERS, ParseError, WebhookContext, matches

from .support import SECRETS, exercised, fixture, trigger

TWITTER = PROVIDERS["twitter"]
CRC_TOKEN = "2f3a5f6c-0b43-4b0e-9c2b-9b6c6a1d7f3e"


def _parse(name: str) -> WebhookContext:
    return TWITTER.parse({}, fixture(f"twitter/{name}.json"))


def test_crc_check_is_answered_with_the_response_token() -> None:
    """
    A CRC GET is answered with ``sha256=`` and the base64 HMAC-SHA256 of the
    token under the consumer secret.
    """
    answer = TWITTER.handshake(
        "GET", {}, b"", {"crc_token": CRC_TOKEN}, SECRETS["twitter"]
    )
    key = SECRETS["twitter"]["consumer_secret"].encode()
    digest = hmac.new(key, CRC_TOKEN.encode(), hashlib.sha256).digest()
    assert answer is not None
    assert (answer.code, answer.content_type) == (200, "application/json")
    assert json.loads(answer.body) == {
        "response_token": "sha256=" + base64.b64encode(digest).decode()
    }


@pytest.mark.parametrize(
    ("method", "query", "with_secret"),
    [
        ("GET", {"crc_token": CRC_TOKEN}, False),
        ("GET", {}, True),
        ("POST", {"crc_token": CRC_TOKEN}, True),
    ],
)
def test_crc_check_needs_get_token_and_secret(
    method: str, query: dict[str, str], with_secret: bool
) -> None:
    """
    Without a GET, a ``crc_token`` and a consumer secret there is nothing to
    answer.
    """
    secret = SECRETS["twitter"] if with_secret else None
    assert TWITTER.handshake(method, {}, b"", query, secret) is None


def test_tweet_parses_to_its_key_fields() -> None:
    """
    A ``tweet_create_events`` delivery gives the text, author, link and time.
    """
    context = _parse("tweet_create")
    assert (context.provider, context.event) == ("twitter", "tweet_create_events")
    assert context.body == "@XDevelopers the webhook works!"
    assert context.author == context.sender == "ada_codes"
    assert context.url == "https://x.com/ada_codes/status/1792508318925783040"
    assert context.timestamp == "2024-05-20T10:00:00.000Z"
    assert dict(context.extras) == {
        "forUserId": "2244994945",
        "tweetId": "1792508318925783040",
    }


def test_follow_parses_with_source_and_target() -> None:
    """
    A follow's author is who followed, and its target is in the extras.
    """
    context = _parse("follow")
    assert (context.event, context.author) == ("follow_events", "ada_codes")
    assert context.extras["target"] == "XDevelopers"
    assert context.timestamp == "2018-02-02T16:25:49.178Z"


def test_direct_message_author_comes_from_the_users_table() -> None:
    """
    A direct message's sender id is resolved to a screen name.
    """
    context = _parse("direct_message")
    assert (context.event, context.author) == ("direct_message_events", "ada_codes")
    assert context.body == "Hello World!"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tweet_create", "2244994945:tweet_create_events:1792508318925783040"),
        ("direct_message", "2244994945:direct_message_events:954491830116155396"),
        ("follow", None),
    ],
)
def test_delivery_id_is_built_from_the_event(name: str, expected: str | None) -> None:
    """
    The delivery id joins the subscribed user, the event key and the event's
    own id, when it has one.
    """
    assert TWITTER.delivery_id({}, fixture(f"twitter/{name}.json")) == expected


def test_body_without_events_is_a_parse_error() -> None:
    """
    A JSON object with no event list is not an Account Activity delivery.
    """
    with pytest.raises(ParseError):
        TWITTER.parse({}, b'{"for_user_id": "2244994945"}')


FILTER_CASES: list[tuple[str, dict[str, str | tuple[str, ...]], bool]] = [
    ("tweet_create", {"events": ("tweet_create_events", "favorite_events")}, True),
    ("follow", {"events": "tweet_create_events"}, False),
    ("direct_message", {"author": "Ada_Codes"}, True),
    ("direct_message", {"author": "XDevelopers"}, False),
]
"""
Fixture, filters, and whether they match.
"""


@pytest.mark.parametrize(("name", "filters", "expected"), FILTER_CASES)
def test_filter(
    name: str, filters: dict[str, str | tuple[str, ...]], expected: bool
) -> None:
    """
    Each X filter field matches the context's value, ignoring case, and
    nothing else.
    """
    assert matches(trigger(**filters), _parse(name)) is expected


def test_filter_cases_cover_every_field() -> None:
    """
    Every X filter field is exercised above, both matching and not.
    """
    assert exercised(FILTER_CASES, True) >= TWITTER.filter_fields
    assert exercised(FILTER_CASES, False) >= TWITTER.filter_fields
