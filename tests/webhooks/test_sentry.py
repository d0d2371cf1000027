"""
Tests for the Sentry provider, on payloads modelled on Sentry's
integration-platform documentation.
"""

from __future__ import annotations

from typing import Any

import pytest

from action_llama.webhooks import (
    PROVIDERS,
    ParseError,
    Verdict,
    WebhookContext,
    matches,
)

from .support import NOW, SECRETS, exercised, fixture, sign, trigger

SENTRY = PROVIDERS["sentry"]

EXPECTED: dict[str, dict[str, Any]] = {
    "issue.created": {
        "action": "created",
        "org": "test-org",
        "title": "ReferenceError: blooopy is not defined",
        "body": "?(runner)",
        "url": "https://sentry.io/organizations/test-org/issues/1170820242/",
        "sender": "Sentry",
    },
    "error.created": {
        "org": "test-org",
        "title": "ReferenceError: blooopy is not defined",
        "url": (
            "https://sentry.io/organizations/test-org/issues/1117540176/events/"
            "bb78c1407cea4519aa397afc059c793d/"
        ),
    },
    "event_alert.triggered": {"action": "triggered", "org": "test-org"},
    "metric_alert.critical": {
        "action": "critical",
        "org": "test-org",
        "title": "Critical: Request duration",
        "body": "p95 of transaction.duration over 1000ms in the last 10 minutes",
        "url": "https://sentry.io/organizations/test-org/alerts/rules/details/12/",
    },
    "comment.created": {"body": "Looking into this now.", "sender": "Ada Lovelace"},
    "installation.created": {"org": "test-org", "sender": "Ada Lovelace"},
}
"""
Key fields of each fixture, read off the payloads by hand.
"""

EXTRAS: dict[str, dict[str, str]] = {
    "issue.created": {"project": "front-end", "shortId": "FRONT-END-1A"},
    "error.created": {"project": "front-end", "issueId": "1117540176"},
    "event_alert.triggered": {
        "project": "front-end",
        "triggeredRule": "Very Important Alert Rule!",
    },
    "comment.created": {"project": "front-end", "issueId": "1117540176"},
    "installation.created": {"installationId": "7a485448-a9e2-4c85-8a3c-4f44175783c9"},
}


def _parse(name: str, headers: dict[str, str] | None = None) -> WebhookContext:
    resource = name.split(".")[0]
    return SENTRY.parse(
        {"sentry-hook-resource": resource, **(headers or {})},
        fixture(f"sentry/{name}.json"),
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_its_key_fields(name: str) -> None:
    """
    Each resource's payload parses with the resource as event and extra,
    and its key fields.
    """
    context = _parse(name)
    resource = name.split(".")[0]
    assert (context.provider, context.event) == ("sentry", resource)
    assert context.extras["resource"] == resource
    for field, value in EXPECTED[name].items():
        assert getattr(context, field) == value, field
    for key, value in EXTRAS.get(name, {}).items():
        assert context.extras[key] == value, key


def test_timestamp_comes_from_the_timestamp_header() -> None:
    """
    ``Sentry-Hook-Timestamp`` becomes the context's ISO timestamp.
    """
    context = _parse("issue.created", {"sentry-hook-timestamp": str(int(NOW))})
    assert context.timestamp == "2024-05-20T10:00:00.000Z"


def test_old_timestamp_does_not_make_a_delivery_stale() -> None:
    """
    An old ``Sentry-Hook-Timestamp`` does not make a signed delivery stale,
    since Sentry does not sign it.
    """
    body = fixture("sentry/issue.created.json")
    headers = sign("sentry", body, now=1000.0)
    assert headers["sentry-hook-timestamp"] == "1000"
    assert SENTRY.verify(headers, body, SECRETS["sentry"], NOW) == Verdict(True)


def test_missing_resource_header_is_a_parse_error() -> None:
    """
    Without ``Sentry-Hook-Resource`` a delivery cannot be parsed.
    """
    with pytest.raises(ParseError):
        SENTRY.parse({}, fixture("sentry/issue.created.json"))


def test_delivery_id_is_the_request_id() -> None:
    """
    The delivery id is the ``Request-ID`` header, and ``None`` without it.
    """
    body = fixture("sentry/issue.created.json")
    request_id = "f1a3c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    assert SENTRY.delivery_id({"request-id": request_id}, body) == request_id
    assert SENTRY.delivery_id({}, body) is None


def test_sentry_has_no_handshake() -> None:
    """
    Nothing Sentry sends is a handshake.
    """
    body = fixture("sentry/installation.created.json")
    assert SENTRY.handshake("POST", {}, body, {}, SECRETS["sentry"]) is None


FILTER_CASES: list[tuple[str, dict[str, str | tuple[str, ...]], bool]] = [
    ("error.created", {"resources": ("error", "event_alert")}, True),
    ("issue.created", {"resources": ("error", "event_alert")}, False),
    ("metric_alert.critical", {"events": "metric_alert"}, True),
    ("metric_alert.critical", {"events": "issue"}, False),
    ("metric_alert.critical", {"actions": ("critical", "warning")}, True),
    ("metric_alert.critical", {"actions": "resolved"}, False),
    ("error.created", {"projects": ("web-app", "Front-End")}, True),
    ("error.created", {"projects": ("web-app", "api")}, False),
    ("metric_alert.critical", {"projects": "front-end"}, False),
    ("issue.created", {"orgs": "test-org"}, True),
    ("issue.created", {"orgs": "acme"}, False),
    ("installation.created", {"org": "TEST-ORG"}, True),
    ("installation.created", {"org": "acme"}, False),
    ("event_alert.triggered", {"organizations": "test-org"}, True),
    ("comment.created", {"organizations": "test-org"}, False),
]
"""
Fixture, filters, and whether they match.
"""


@pytest.mark.parametrize(("name", "filters", "expected"), FILTER_CASES)
def test_filter(
    name: str, filters: dict[str, str | tuple[str, ...]], expected: bool
) -> None:
    """
    Each Sentry filter field matches the context's value, ignoring case,
    and nothing else.
    """
    assert matches(trigger(**filters), _parse(name)) is expected


def test_filter_cases_cover_every_field() -> None:
    """
    Every Sentry filter field is exercised above, both matching and not.
    """
    assert exercised(FILTER_CASES, True) >= SENTRY.filter_fields
    assert exercised(FILTER_CASES, False) >= SENTRY.filter_fields
