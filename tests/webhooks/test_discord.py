"""
Tests for the Discord provider: Ed25519 signatures, the PING handshake,
application commands and their deferred answer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from action_llama.webhooks import (
    PROVIDERS,
    HandshakeAnswer,
    ParseError,
    Verdict,
    WebhookContext,
    discord_deferred_response,
    matches,
)

from .support import NOW, SECRETS, exercised, fixture, sign, trigger

DISCORD = PROVIDERS["discord"]


def _command(**changes: Any) -> WebhookContext:
    payload = json.loads(fixture("discord/application_command.json"))
    payload.update(changes)
    body = json.dumps(payload).encode()
    return DISCORD.parse(sign("discord", body), body)


def test_ping_is_answered_with_a_pong() -> None:
    """
    A PING (type 1) is answered ``{"type": 1}`` as JSON.
    """
    body = fixture("discord/ping.json")
    headers = sign("discord", body)
    answer = DISCORD.handshake("POST", headers, body, {}, SECRETS["discord"])
    assert answer == HandshakeAnswer(200, b'{"type": 1}', "application/json")


def test_forged_ping_is_not_answered() -> None:
    """
    A PING whose signature does not check out gets no PONG, so ``verify``
    can refuse it as Discord's endpoint check expects.
    """
    body = fixture("discord/ping.json")
    headers = {**sign("discord", body), "x-signature-ed25519": "00" * 64}
    assert DISCORD.handshake("POST", headers, body, {}, SECRETS["discord"]) is None
    assert DISCORD.handshake("POST", {}, body, {}, SECRETS["discord"]) is None


def test_unsigned_source_answers_the_ping() -> None:
    """
    Without a public key the PING is answered as it comes.
    """
    answer = DISCORD.handshake("POST", {}, fixture("discord/ping.json"), {}, None)
    assert answer == HandshakeAnswer.json({"type": 1})


def test_command_and_get_are_no_handshake() -> None:
    """
    An application command, or anything but a POST, is not a handshake.
    """
    command = fixture("discord/application_command.json")
    assert DISCORD.handshake("POST", {}, command, {}, None) is None
    assert DISCORD.handshake("GET", {}, fixture("discord/ping.json"), {}, None) is None


def test_application_command_parses_to_its_key_fields() -> None:
    """
    An application command gives its name, options, guild, channel, user,
    interaction token and signing time.
    """
    context = _command()
    assert (context.provider, context.event) == ("discord", "application_command")
    assert (context.author, context.sender) == ("53908232506183680", "Mason")
    assert context.timestamp == "2024-05-20T10:00:00.000Z"
    assert dict(context.extras) == {
        "interactionId": "786008729715212338",
        "applicationId": "775799577604522054",
        "interactionToken": "A_UNIQUE_TOKEN",
        "guild": "290926798626357999",
        "channel": "645027906669510667",
        "channelName": "triage",
        "command": "cardsearch",
        "options": [{"type": 3, "name": "cardname", "value": "The Gitrog Monster"}],
    }


def test_direct_message_command_takes_the_top_level_user() -> None:
    """
    Outside a guild the user is at the top level, and there is no guild.
    """
    context = _command(
        member=None, guild_id=None, user={"id": "1234", "username": "dm-user"}
    )
    assert (context.author, context.sender) == ("1234", "dm-user")
    assert "guild" not in context.extras


def test_unknown_interaction_type_is_a_parse_error() -> None:
    """
    A body whose ``type`` is not an interaction type cannot be parsed.
    """
    with pytest.raises(ParseError):
        DISCORD.parse({}, b'{"type": 42, "id": "1"}')


def test_delivery_id_is_the_interaction_id() -> None:
    """
    The delivery id is the interaction's ``id`` in the body.
    """
    body = fixture("discord/application_command.json")
    assert DISCORD.delivery_id({}, body) == "786008729715212338"
    assert DISCORD.delivery_id({}, b"not json") is None


def test_missing_timestamp_is_missing_signature() -> None:
    """
    A signature without ``X-Signature-Timestamp`` cannot be checked.
    """
    body = fixture("discord/ping.json")
    headers = sign("discord", body)
    del headers["x-signature-timestamp"]
    verdict = DISCORD.verify(headers, body, SECRETS["discord"], NOW)
    assert verdict == Verdict(False, "missing_signature")


def test_changed_timestamp_is_a_bad_signature() -> None:
    """
    The timestamp is signed along with the body.
    """
    body = fixture("discord/ping.json")
    headers = {**sign("discord", body), "x-signature-timestamp": "1716199201"}
    verdict = DISCORD.verify(headers, body, SECRETS["discord"], NOW)
    assert verdict == Verdict(False, "bad_signature")


@pytest.mark.parametrize("public_key", ["not hex", "00" * 31, "ab" * 33])
def test_malformed_public_key_is_a_bad_signature(public_key: str) -> None:
    """
    A public key that is not 32 bytes of hex verifies nothing.
    """
    body = fixture("discord/ping.json")
    secret = {**SECRETS["discord"], "public_key": public_key}
    verdict = DISCORD.verify(sign("discord", body), body, secret, NOW)
    assert verdict == Verdict(False, "bad_signature")


@pytest.mark.parametrize(
    ("interaction_type", "answer_type"), [(2, 5), (5, 5), (3, 6), (4, None)]
)
def test_deferred_response(interaction_type: int, answer_type: int | None) -> None:
    """
    Commands and modal submissions are deferred with type 5, components with
    type 6, and autocomplete not at all.
    """
    answer = discord_deferred_response(_command(type=interaction_type))
    if answer_type is None:
        assert answer is None
    else:
        assert answer == HandshakeAnswer.json({"type": answer_type})


def test_other_providers_are_not_deferred() -> None:
    """
    Only Discord interactions get a deferred answer.
    """
    assert discord_deferred_response(WebhookContext("slack", "slash_command")) is None


FILTER_CASES: list[tuple[dict[str, Any], dict[str, str | tuple[str, ...]], bool]] = [
    ({}, {"events": "application_command"}, True),
    ({"type": 3}, {"events": "application_command"}, False),
    ({}, {"guilds": "290926798626357999"}, True),
    ({}, {"guilds": "1"}, False),
    ({}, {"channels": "645027906669510667"}, True),
    ({}, {"channels": "Triage"}, True),
    ({}, {"channels": "general"}, False),
    ({}, {"commands": ("cardsearch", "triage")}, True),
    ({}, {"commands": "/cardsearch"}, True),
    ({}, {"commands": "deploy"}, False),
    ({}, {"author": "53908232506183680"}, True),
    ({}, {"author": "1"}, False),
]
"""
Changes to the command fixture, filters, and whether they match.
"""


@pytest.mark.parametrize(("changes", "filters", "expected"), FILTER_CASES)
def test_filter(
    changes: dict[str, Any],
    filters: dict[str, str | tuple[str, ...]],
    expected: bool,
) -> None:
    """
    Each Discord filter field matches the context's value, ignoring case and
    a command's slash, and nothing else.
    """
    assert matches(trigger(**filters), _command(**changes)) is expected


def test_filter_cases_cover_every_field() -> None:
    """
    Every Discord filter field is exercised above, both matching and not.
    """
    assert exercised(FILTER_CASES, True) >= DISCORD.filter_fields
    assert exercised(FILTER_CASES, False) >= DISCORD.filter_fields
