"""
Tests for the Slack provider: the v0 signature and its five-minute window,
the URL verification challenge, Events API callbacks, slash commands and
interactions.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from action_llama.webhooks import (
    PROVIDERS,
    HandshakeAnswer,
    ParseError,
    Verdict,
    WebhookContext,
    matches,
)

from .support import NOW, SECRETS, exercised, fixture, sign, trigger

SLACK = PROVIDERS["slack"]
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}

DOCS_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA"
    b"&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J"
    b"%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
"""
The request from Slack's "Verifying requests from Slack" walk-through.
"""

DOCS_HEADERS = {
    **FORM,
    "x-slack-request-timestamp": "1531420618",
    "x-slack-signature": (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    ),
}


def _command() -> WebhookContext:
    return SLACK.parse(FORM, fixture("slack/slash_command.form"))


def _mention() -> WebhookContext:
    return SLACK.parse(JSON, fixture("slack/app_mention.json"))


def test_published_example_verifies() -> None:
    """
    Slack's documented example request verifies with its signing secret.
    """
    verdict = SLACK.verify(DOCS_HEADERS, DOCS_BODY, SECRETS["slack"], 1531420618.0)
    assert verdict == Verdict(True)


@pytest.mark.parametrize("age", [-300.0, -299.0, 0.0, 299.0, 300.0])
def test_request_within_five_minutes_verifies(age: float) -> None:
    """
    A signed request up to 300 s old (or ahead) verifies; 299 s is fine.
    """
    body = fixture("slack/app_mention.json")
    headers = sign("slack", body, now=NOW - age)
    assert SLACK.verify(headers, body, SECRETS["slack"], NOW) == Verdict(True)


@pytest.mark.parametrize("age", [-301.0, 301.0, 86400.0])
def test_request_beyond_five_minutes_is_stale(age: float) -> None:
    """
    A signed request more than 300 s old (or ahead) is ``stale``; 301 s is
    too old.
    """
    body = fixture("slack/app_mention.json")
    headers = sign("slack", body, now=NOW - age)
    assert SLACK.verify(headers, body, SECRETS["slack"], NOW) == Verdict(False, "stale")


def test_missing_timestamp_is_missing_signature() -> None:
    """
    A signature without its timestamp header cannot be checked.
    """
    body = fixture("slack/app_mention.json")
    headers = sign("slack", body)
    del headers["x-slack-request-timestamp"]
    verdict = SLACK.verify(headers, body, SECRETS["slack"], NOW)
    assert verdict == Verdict(False, "missing_signature")


def test_changed_timestamp_is_a_bad_signature() -> None:
    """
    The timestamp is signed: moving it forward breaks the signature.
    """
    body = fixture("slack/app_mention.json")
    headers = sign("slack", body, now=NOW - 1000)
    headers["x-slack-request-timestamp"] = str(int(NOW))
    verdict = SLACK.verify(headers, body, SECRETS["slack"], NOW)
    assert verdict == Verdict(False, "bad_signature")


def test_url_verification_echoes_the_challenge() -> None:
    """
    The ``url_verification`` request is answered with its challenge, as
    plain text.
    """
    body = fixture("slack/url_verification.json")
    headers = {**JSON, **sign("slack", body)}
    answer = SLACK.handshake("POST", headers, body, {}, SECRETS["slack"])
    challenge = b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    assert answer == HandshakeAnswer(200, challenge, "text/plain")


def test_forged_url_verification_is_not_answered() -> None:
    """
    With a signing secret, a challenge whose signature does not check out
    is left for ``verify`` to refuse.
    """
    body = fixture("slack/url_verification.json")
    headers = {**JSON, **sign("slack", body)}
    headers["x-slack-signature"] = "v0=" + "0" * 64
    assert SLACK.handshake("POST", headers, body, {}, SECRETS["slack"]) is None
    assert SLACK.handshake("POST", JSON, body, {}, SECRETS["slack"]) is None


def test_unsigned_source_answers_the_challenge() -> None:
    """
    Without a signing secret the challenge is answered as it comes.
    """
    body = fixture("slack/url_verification.json")
    answer = SLACK.handshake("POST", JSON, body, {}, None)
    assert answer is not None
    assert answer.body.startswith(b"3eZbrw1a")


def test_ssl_check_is_acknowledged() -> None:
    """
    A signed slash command ``ssl_check`` post gets an empty 200.
    """
    body = b"ssl_check=1&token=gIkuvaNzQIHg97ATvDxqgjtO"
    headers = {**FORM, **sign("slack", body)}
    answer = SLACK.handshake("POST", headers, body, {}, SECRETS["slack"])
    assert answer == HandshakeAnswer(200, b"", "text/plain")


@pytest.mark.parametrize(
    ("method", "headers", "path"),
    [
        ("GET", JSON, "slack/url_verification.json"),
        ("POST", JSON, "slack/app_mention.json"),
        ("POST", FORM, "slack/slash_command.form"),
    ],
)
def test_other_requests_are_no_handshake(
    method: str, headers: dict[str, str], path: str
) -> None:
    """
    Event callbacks, commands and non-POST requests are not handshakes.
    """
    assert SLACK.handshake(method, headers, fixture(path), {}, None) is None


def test_event_callback_parses_to_its_key_fields() -> None:
    """
    An ``event_callback`` gives the inner event type, workspace, user, text,
    channel and time.
    """
    context = _mention()
    assert (context.provider, context.event) == ("slack", "app_mention")
    assert context.org == "T123ABC456"
    assert context.author == context.sender == "U123ABC456"
    assert context.body == "<@U0LAN0Z89> is it everything a river should be?"
    assert context.timestamp == "2018-01-08T22:12:02.000Z"
    assert dict(context.extras) == {
        "eventId": "Ev123ABC456",
        "apiAppId": "A123ABC456",
        "channel": "C123ABC456",
        "ts": "1515449522.000016",
    }


def test_url_verification_parses_as_its_type() -> None:
    """
    A body that is not an event callback parses as its own ``type``.
    """
    context = SLACK.parse(JSON, fixture("slack/url_verification.json"))
    assert context.event == "url_verification"


def test_slash_command_parses_to_its_key_fields() -> None:
    """
    A slash command gives the command, channel, workspace, user and text.
    """
    context = _command()
    assert context.event == "slash_command"
    assert context.org == "T0001"
    assert (context.author, context.sender) == ("U2147483697", "Steve")
    assert context.body == "94070"
    assert context.extras["command"] == "/weather"
    assert context.extras["channel"] == "C2147483705"
    assert context.extras["channelName"] == "test"
    assert context.extras["responseUrl"] == "https://hooks.slack.com/commands/1234/5678"


def test_interaction_parses_from_its_payload_field() -> None:
    """
    An interaction's form ``payload`` is read as JSON.
    """
    payload = {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": "U2147483697", "username": "steve"},
        "channel": {"id": "C2147483705", "name": "test"},
        "actions": [{"action_id": "approve", "type": "button"}],
        "response_url": "https://hooks.slack.com/actions/T0001/1/abc",
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    context = SLACK.parse(FORM, body)
    assert (context.event, context.org, context.author) == (
        "block_actions",
        "T0001",
        "U2147483697",
    )
    assert context.extras["actionIds"] == ["approve"]
    assert context.extras["channel"] == "C2147483705"


def test_form_that_is_neither_is_a_parse_error() -> None:
    """
    A form body with no command and no payload is not a Slack request.
    """
    with pytest.raises(ParseError):
        SLACK.parse(FORM, b"text=hello")


def test_delivery_id_is_the_event_id() -> None:
    """
    An event callback's id is its ``event_id``, the same on Slack's retries;
    slash commands have none.
    """
    body = fixture("slack/app_mention.json")
    retry = {**JSON, "x-slack-retry-num": "1", "x-slack-retry-reason": "timeout"}
    assert SLACK.delivery_id(JSON, body) == "Ev123ABC456"
    assert SLACK.delivery_id(retry, body) == "Ev123ABC456"
    assert SLACK.delivery_id(FORM, fixture("slack/slash_command.form")) is None


FILTER_CASES: list[tuple[str, dict[str, str | tuple[str, ...]], bool]] = [
    ("mention", {"events": ("app_mention", "message")}, True),
    ("mention", {"events": "message"}, False),
    ("subtyped", {"actions": "bot_message"}, True),
    ("mention", {"actions": "bot_message"}, False),
    ("mention", {"channels": "c123abc456"}, True),
    ("command", {"channels": "test"}, True),
    ("command", {"channels": ("general", "C123ABC456")}, False),
    ("command", {"commands": "weather"}, True),
    ("command", {"commands": "/Weather"}, True),
    ("command", {"commands": "/deploy"}, False),
    ("mention", {"commands": "weather"}, False),
    ("mention", {"author": "U123ABC456"}, True),
    ("mention", {"author": "U2147483697"}, False),
    ("command", {"orgs": "T0001"}, True),
    ("command", {"orgs": "T123ABC456"}, False),
    ("mention", {"org": "t123abc456"}, True),
    ("mention", {"org": "T0001"}, False),
    ("mention", {"organizations": "T123ABC456"}, True),
    ("mention", {"organizations": "T0001"}, False),
]
"""
Request, filters, and whether they match.
"""


def _subtyped() -> WebhookContext:
    payload = json.loads(fixture("slack/app_mention.json"))
    payload["event"].update(type="message", subtype="bot_message")
    return SLACK.parse(JSON, json.dumps(payload).encode())


CONTEXTS = {"mention": _mention, "command": _command, "subtyped": _subtyped}


@pytest.mark.parametrize(("name", "filters", "expected"), FILTER_CASES)
def test_filter(
    name: str, filters: dict[str, str | tuple[str, ...]], expected: bool
) -> None:
    """
    Each Slack filter field matches the context's value, ignoring case and a
    command's slash, and nothing else.
    """
    assert matches(trigger(**filters), CONTEXTS[name]()) is expected


def test_filter_cases_cover_every_field() -> None:
    """
    Every Slack filter field is exercised above, both matching and not.
    """
    assert exercised(FILTER_CASES, True) >= SLACK.filter_fields
    assert exercised(FILTER_CASES, False) >= SLACK.filter_fields
