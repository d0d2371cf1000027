"""
Tests for the Linear provider, on payloads modelled on Linear's webhook
documentation.
"""

from __future__ import annotations

import json

import pytest

from action_llama.webhooks import (
    PROVIDERS,
    ParseError,
    Verdict,
    WebhookContext,
    matches,
)

from .support import NOW, SECRETS, exercised, fixture, flip_bit, sign, trigger

LINEAR = PROVIDERS["linear"]
ORGANIZATION_ID = "d1a9e2f0-4444-4a7b-9f41-8c1a1f5e0004"


def _parse(name: str) -> WebhookContext:
    return LINEAR.parse({}, fixture(f"linear/{name}.json"))


def _verify(body: bytes, now: float) -> Verdict:
    return LINEAR.verify(sign("linear", body), body, SECRETS["linear"], now)


def test_issue_parses_to_its_key_fields() -> None:
    """
    An ``Issue`` delivery gives type, action, workspace, number, text,
    labels, people, time and extras.
    """
    context = _parse("issue.create")
    assert (context.event, context.action) == ("Issue", "create")
    assert context.org == "acme"
    assert context.number == 123
    assert context.title == "Login button unresponsive"
    assert context.body == "Clicking *Log in* does nothing on Safari."
    assert context.url == (
        "https://linear.app/acme/issue/ENG-123/login-button-unresponsive"
    )
    assert context.labels == ("Bug",)
    assert context.assignee == "Grace Hopper"
    assert context.author == context.sender == "Ada Lovelace"
    assert context.timestamp == "2024-05-20T10:00:00.000Z"
    assert dict(context.extras) == {
        "organizationId": ORGANIZATION_ID,
        "identifier": "ENG-123",
        "team": "ENG",
        "project": "Web App",
        "state": "Todo",
    }


def test_comment_parses_with_its_issue() -> None:
    """
    A ``Comment`` delivery takes its title and identifier from its issue and
    its author from the commenter.
    """
    context = _parse("comment.create")
    assert context.event == "Comment"
    assert context.title == "Login button unresponsive"
    assert context.body == "Reproduced on Safari 17."
    assert context.author == "Grace Hopper"
    assert context.extras["identifier"] == "ENG-123"


@pytest.mark.parametrize("offset", [-60.0, -59.0, 0.0, 59.0, 60.0])
def test_delivery_within_a_minute_verifies(offset: float) -> None:
    """
    A signed delivery whose ``webhookTimestamp`` is within 60 s of our clock,
    either way, verifies.
    """
    body = fixture("linear/issue.create.json")
    assert _verify(body, NOW + offset) == Verdict(True)


@pytest.mark.parametrize("offset", [-61.0, 61.0, 3600.0])
def test_delivery_beyond_a_minute_is_stale(offset: float) -> None:
    """
    A signed delivery more than 60 s from our clock is ``stale``.
    """
    body = fixture("linear/issue.create.json")
    assert _verify(body, NOW + offset) == Verdict(False, "stale")


def test_delivery_without_timestamp_is_stale() -> None:
    """
    A signed delivery with no ``webhookTimestamp`` cannot be shown fresh.
    """
    payload = json.loads(fixture("linear/issue.create.json"))
    del payload["webhookTimestamp"]
    assert _verify(json.dumps(payload).encode(), NOW) == Verdict(False, "stale")


def test_bad_signature_wins_over_stale() -> None:
    """
    A forged old delivery is reported as a bad signature, not as stale.
    """
    body = fixture("linear/issue.create.json")
    headers = sign("linear", body)
    verdict = LINEAR.verify(headers, flip_bit(body, 3), SECRETS["linear"], NOW + 999)
    assert verdict == Verdict(False, "bad_signature")


def test_body_without_type_is_a_parse_error() -> None:
    """
    A JSON object without ``type`` is not a Linear delivery.
    """
    with pytest.raises(ParseError):
        LINEAR.parse({}, b'{"action": "create"}')


def test_delivery_id_is_the_delivery_header() -> None:
    """
    The delivery id is ``Linear-Delivery``, and ``None`` without it.
    """
    body = fixture("linear/issue.create.json")
    delivery = "234d1a4e-b617-4388-90fe-adc3633d6b72"
    assert LINEAR.delivery_id({"linear-delivery": delivery}, body) == delivery
    assert LINEAR.delivery_id({}, body) is None


def test_linear_has_no_handshake() -> None:
    """
    Nothing Linear sends is a handshake.
    """
    body = fixture("linear/issue.create.json")
    assert LINEAR.handshake("POST", {}, body, {}, SECRETS["linear"]) is None


FILTER_CASES: list[tuple[str, dict[str, str | tuple[str, ...]], bool]] = [
    ("issue.create", {"events": "issue"}, True),
    ("comment.create", {"events": "Issue"}, False),
    ("issue.create", {"actions": ("create", "update")}, True),
    ("issue.create", {"actions": "remove"}, False),
    ("issue.create", {"labels": "bug"}, True),
    ("issue.create", {"labels": "feature"}, False),
    ("issue.create", {"assignee": "grace hopper"}, True),
    ("issue.create", {"assignee": "Ada Lovelace"}, False),
    ("comment.create", {"author": "Grace Hopper"}, True),
    ("comment.create", {"author": "Ada Lovelace"}, False),
    ("issue.create", {"projects": "web app"}, True),
    ("issue.create", {"projects": "Mobile"}, False),
    ("issue.create", {"orgs": "acme"}, True),
    ("issue.create", {"orgs": "globex"}, False),
    ("comment.create", {"org": ORGANIZATION_ID}, True),
    ("comment.create", {"org": "globex"}, False),
    ("issue.create", {"organizations": "ACME"}, True),
    ("issue.create", {"organizations": "globex"}, False),
]
"""
Fixture, filters, and whether they match.
"""


@pytest.mark.parametrize(("name", "filters", "expected"), FILTER_CASES)
def test_filter(
    name: str, filters: dict[str, str | tuple[str, ...]], expected: bool
) -> None:
    """
    Each Linear filter field matches the context's value, ignoring case,
    and nothing else; the org filters accept the workspace key or id.
    """
    assert matches(trigger(**filters), _parse(name)) is expected


def test_filter_cases_cover_every_field() -> None:
    """
    Every Linear filter field is exercised above, both matching and not.
    """
    assert exercised(FILTER_CASES, True) >= LINEAR.filter_fields
    assert exercised(FILTER_CASES, False) >= LINEAR.filter_fields
