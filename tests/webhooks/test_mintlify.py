"""
Tests for the Mintlify provider, on a payload following our reading of its
scheme (see the module docstring of ``action_llama.webhooks.mintlify``).
"""

from __future__ import annotations

import pytest

from action_llama.webhooks import PROVIDERS, ParseError, Verdict, matches

from .support import NOW, SECRETS, exercised, fixture, sign, trigger

MINTLIFY = PROVIDERS["mintlify"]


def test_deployment_parses_to_its_key_fields() -> None:
    """
    A deployment delivery gives event, status as action, project, branch,
    text and time.
    """
    context = MINTLIFY.parse({}, fixture("mintlify/deployment.json"))
    assert (context.provider, context.event) == ("mintlify", "deployment")
    assert context.action == "success"
    assert context.branch == "main"
    assert context.title == "Deployment succeeded"
    assert context.body == "Deployed 42 pages to acme.mintlify.app."
    assert context.url == "https://acme.mintlify.app"
    assert context.timestamp == "2024-05-20T10:00:00Z"
    assert dict(context.extras) == {"project": "acme-docs"}


def test_type_and_action_fields_are_read_too() -> None:
    """
    ``type`` stands in for ``event``, and ``action`` is preferred to
    ``status``.
    """
    body = b'{"type": "build", "action": "failed", "status": "x", "timestamp": 0}'
    context = MINTLIFY.parse({}, body)
    assert (context.event, context.action) == ("build", "failed")
    assert context.timestamp == "1970-01-01T00:00:00.000Z"


def test_prefixed_signature_verifies() -> None:
    """
    A ``sha256=``-prefixed hex signature is accepted like a bare one.
    """
    body = fixture("mintlify/deployment.json")
    signature = sign("mintlify", body)["x-mintlify-signature"]
    headers = {"x-mintlify-signature": "sha256=" + signature}
    assert MINTLIFY.verify(headers, body, SECRETS["mintlify"], NOW) == Verdict(True)


def test_body_without_event_is_a_parse_error() -> None:
    """
    A JSON object with neither ``event`` nor ``type`` cannot be routed.
    """
    with pytest.raises(ParseError):
        MINTLIFY.parse({}, b'{"status": "success"}')


def test_there_is_no_delivery_id_or_handshake() -> None:
    """
    Mintlify deliveries carry no id we know of and need no handshake.
    """
    body = fixture("mintlify/deployment.json")
    assert MINTLIFY.delivery_id({}, body) is None
    assert MINTLIFY.handshake("POST", {}, body, {}, SECRETS["mintlify"]) is None


FILTER_CASES: list[tuple[str, dict[str, str | tuple[str, ...]], bool]] = [
    ("deployment", {"events": "deployment"}, True),
    ("deployment", {"events": "build"}, False),
    ("deployment", {"actions": ("success", "failure")}, True),
    ("deployment", {"actions": "failure"}, False),
    ("deployment", {"projects": "acme-docs"}, True),
    ("deployment", {"projects": "other-docs"}, False),
    ("deployment", {"branches": "main"}, True),
    ("deployment", {"branches": "staging"}, False),
]
"""
Fixture, filters, and whether they match.
"""


@pytest.mark.parametrize(("name", "filters", "expected"), FILTER_CASES)
def test_filter(
    name: str, filters: dict[str, str | tuple[str, ...]], expected: bool
) -> None:
    """
    Each Mintlify filter field matches the context's value and nothing else.
    """
    context = MINTLIFY.parse({}, fixture(f"mintlify/{name}.json"))
    assert matches(trigger(**filters), context) is expected


def test_filter_cases_cover_every_field() -> None:
    """
    Every Mintlify filter field is exercised above, both matching and not.
    """
    assert exercised(FILTER_CASES, True) >= MINTLIFY.filter_fields
    assert exercised(FILTER_CASES, False) >= MINTLIFY.filter_fields
