"""
Tests for the shared shapes: the provider table, the context's JSON form and
handshake answers.
"""

from __future__ import annotations

import json

import pytest
from attrs import evolve

from action_llama.config import WEBHOOK_TYPES
from action_llama.webhooks import PROVIDERS, HandshakeAnswer, WebhookContext

SECRET_TYPES = {
    "github": "github_webhook_secret",
    "sentry": "sentry_client_secret",
    "linear": "linear_webhook_secret",
    "mintlify": "mintlify_webhook_secret",
    "slack": "slack_signing_secret",
    "discord": "discord_bot",
    "twitter": "x_twitter_api",
}
"""
The credential type of each provider, from SPEC section 3.
"""


def test_there_is_a_provider_for_every_source_type() -> None:
    """
    ``PROVIDERS`` has exactly the ``[webhooks.<source>].type`` values as
    keys, each naming itself.
    """
    assert set(PROVIDERS) == WEBHOOK_TYPES
    for name, provider in PROVIDERS.items():
        assert provider.name == name


@pytest.mark.parametrize("name", sorted(SECRET_TYPES))
def test_secret_type(name: str) -> None:
    """
    Each provider names the credential type the spec gives it.
    """
    assert PROVIDERS[name].secret_type == SECRET_TYPES[name]


def test_providers_cannot_be_replaced() -> None:
    """
    The provider table is read-only.
    """
    with pytest.raises(TypeError):
        PROVIDERS["github"] = PROVIDERS["slack"]  # type: ignore[index]


def test_context_json_has_camel_case_keys() -> None:
    """
    The JSON form has every field, ``receiptId`` in camelCase, labels as a
    list and the extras as an object, and survives ``json.dumps``.
    """
    context = WebhookContext(
        provider="github",
        event="issues",
        labels=("bug",),
        extras={"commentUrl": "https://github.com/acme/app/issues/1#c"},
    )
    stamped = evolve(context, source="acme-github", receipt_id="r-1")
    assert stamped.to_json() == {
        "source": "acme-github",
        "provider": "github",
        "event": "issues",
        "action": None,
        "repo": None,
        "org": None,
        "number": None,
        "title": None,
        "body": None,
        "url": None,
        "author": None,
        "labels": ["bug"],
        "assignee": None,
        "branch": None,
        "conclusion": None,
        "sender": None,
        "timestamp": None,
        "receiptId": "r-1",
        "extras": {"commentUrl": "https://github.com/acme/app/issues/1#c"},
    }
    assert json.loads(json.dumps(stamped.to_json())) == stamped.to_json()


def test_context_extras_are_read_only() -> None:
    """
    A context's extras cannot be changed after it is made.
    """
    extras = {"channel": "C1"}
    context = WebhookContext(provider="slack", event="message", extras=extras)
    extras["channel"] = "C2"
    assert context.extras["channel"] == "C1"
    with pytest.raises(TypeError):
        context.extras["channel"] = "C3"  # type: ignore[index]


def test_json_handshake_answer() -> None:
    """
    ``HandshakeAnswer.json`` makes a 200 answer with a JSON body.
    """
    answer = HandshakeAnswer.json({"type": 1})
    assert answer == HandshakeAnswer(200, b'{"type": 1}', "application/json")
