"""
Each provider's deliveries as its sender makes them, against the real
gateway: a signed delivery runs the agents it matches and no others, a bad
signature is refused and dead-lettered, unsigned deliveries are accepted
only by sources without a credential, and each challenge is answered.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from .webhook_harness import (
    DISCORD_KEY,
    PROVIDERS,
    SECRETS,
    Gateway,
    Services,
    all_providers_project,
    b64_hmac,
    delivery,
    discord_headers,
    only,
    slack_headers,
    store_all_secrets,
    tampered,
)


@pytest_twisted.async_yield_fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    """
    Services started by one test, stopped after it.
    """
    started = Services(tmp_path)
    yield started
    await started.stop_all()


async def start_all_providers(services: Services) -> Gateway:
    """
    Store every provider's secret and start the all-providers project.
    """
    store_all_secrets()
    return await services.start(all_providers_project(services.tmp_path / "p"))


async def receipt_of(gateway: Gateway, provider: str, answer: Any) -> str:
    """
    The receipt id of a delivery: from the answer, or for a Discord
    interaction (answered with a deferred response) from the history.
    """
    if provider != "discord":
        return str(answer["receiptId"])
    entry = only([t for t in await gateway.triggers() if t["agentName"]])
    return str(entry["webhookReceiptId"])


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest_twisted.ensureDeferred
async def test_signed_delivery_runs_only_the_matching_agent(
    services: Services, provider: str
) -> None:
    """
    A correctly signed delivery to ``/webhooks/<type>`` runs the agent whose
    filters match it, with the parsed context, and not the other agent.
    """
    gateway = await start_all_providers(services)
    answer = await gateway.deliver(f"/webhooks/{provider}", delivery(provider))
    assert answer.code == 200, answer
    body = answer.json()
    if provider == "discord":
        assert body == {"type": 5}
    else:
        assert body["matched"] == [f"{provider}-hit"]
        assert body["started"] == [f"{provider}-hit"]
    receipt_id = await receipt_of(gateway, provider, body)
    runs = await gateway.runs_of(receipt_id)
    assert list(runs) == [f"{provider}-hit"]
    trigger = await gateway.seen(runs[f"{provider}-hit"])
    assert trigger["type"] == "webhook"
    assert trigger["source"] == f"{provider}-signed"
    assert trigger["receiptId"] == receipt_id
    assert trigger["context"]["provider"] == provider
    assert trigger["context"]["receiptId"] == receipt_id
    await gateway.settled()
    assert gateway.seen_count() == 1
    assert (await gateway.receipt(receipt_id))["verdict"] == "verified"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest_twisted.ensureDeferred
async def test_bad_signature_is_401_and_a_dead_letter(
    services: Services, provider: str
) -> None:
    """
    A delivery whose body changed after signing gets 401 and is listed as a
    ``bad_signature`` dead letter, and nothing runs.
    """
    gateway = await start_all_providers(services)
    answer = await gateway.deliver(
        f"/webhooks/{provider}-signed", tampered(delivery(provider))
    )
    assert answer.code == 401, answer
    assert "error" in answer.json()
    receipt_id = answer.json()["receiptId"]
    [dead] = await gateway.triggers(dead_letter=True)
    assert dead["webhookReceiptId"] == receipt_id
    assert dead["deadLetterReason"] == "bad_signature"
    assert dead["agentName"] is None
    assert all(t["agentName"] is None for t in await gateway.triggers())
    assert gateway.seen_count() == 0


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest_twisted.ensureDeferred
async def test_unsigned_delivery_needs_a_source_without_credential(
    services: Services, provider: str
) -> None:
    """
    An unsigned delivery runs the matching agent through a source with no
    credential, and the same delivery to a source with one gets 401.
    """
    gateway = await start_all_providers(services)
    unsigned = delivery(provider, signed=False)
    refused = await gateway.deliver(f"/webhooks/{provider}-signed", unsigned)
    accepted = await gateway.deliver(f"/webhooks/{provider}-open", unsigned)
    assert refused.code == 401, refused
    assert accepted.code == 200, accepted
    receipt_id = await receipt_of(gateway, provider, accepted.json())
    runs = await gateway.runs_of(receipt_id)
    assert list(runs) == [f"{provider}-hit"]
    trigger = await gateway.seen(runs[f"{provider}-hit"])
    assert trigger["source"] == f"{provider}-open"
    assert (await gateway.receipt(receipt_id))["verdict"] == "unsigned"
    [dead] = await gateway.triggers(dead_letter=True)
    assert dead["webhookReceiptId"] == refused.json()["receiptId"]


SLACK_CHALLENGE = json.dumps(
    {
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
).encode()

DISCORD_PING = json.dumps(
    {
        "id": "1102213333999999999",
        "application_id": SECRETS["discord"]["application_id"],
        "type": 1,
        "token": "A_UNIQUE_TOKEN",
        "version": 1,
    }
).encode()


@pytest_twisted.ensureDeferred
async def test_slack_url_verification_challenge_is_echoed(services: Services) -> None:
    """
    Slack's signed ``url_verification`` request is answered with its
    challenge as the plain body.
    """
    gateway = await start_all_providers(services)
    stamp = int(gateway.running.scheduler.clock.seconds())
    headers = slack_headers(SLACK_CHALLENGE, SECRETS["slack"]["secret"], stamp)
    answer = await gateway.send("/webhooks/slack", SLACK_CHALLENGE, headers)
    assert answer.code == 200
    assert answer.body == json.loads(SLACK_CHALLENGE)["challenge"].encode()
    assert gateway.seen_count() == 0


@pytest_twisted.ensureDeferred
async def test_discord_ping_gets_a_pong(services: Services) -> None:
    """
    A Discord PING signed with the application's Ed25519 key is answered
    ``{"type": 1}`` as JSON.
    """
    gateway = await start_all_providers(services)
    headers = discord_headers(DISCORD_PING, DISCORD_KEY)
    answer = await gateway.send("/webhooks/discord", DISCORD_PING, headers)
    assert answer.code == 200
    assert answer.content_type == "application/json"
    assert answer.json() == {"type": 1}


@pytest_twisted.ensureDeferred
async def test_discord_ping_with_a_bad_signature_is_refused(
    services: Services,
) -> None:
    """
    A PING whose signature does not verify gets 401, as Discord's endpoint
    check demands, not a PONG.
    """
    gateway = await start_all_providers(services)
    headers = discord_headers(DISCORD_PING + b" ", DISCORD_KEY)
    answer = await gateway.send("/webhooks/discord-signed", DISCORD_PING, headers)
    assert answer.code == 401, answer


@pytest_twisted.ensureDeferred
async def test_slack_challenge_with_a_bad_signature_is_refused(
    services: Services,
) -> None:
    """
    A ``url_verification`` request that is not signed with the signing
    secret gets 401, not the echoed challenge.
    """
    gateway = await start_all_providers(services)
    stamp = int(gateway.running.scheduler.clock.seconds())
    headers = slack_headers(SLACK_CHALLENGE, "not-the-signing-secret", stamp)
    answer = await gateway.send("/webhooks/slack-signed", SLACK_CHALLENGE, headers)
    assert answer.code == 401, answer


@pytest_twisted.ensureDeferred
async def test_x_crc_check_gets_the_response_token(services: Services) -> None:
    """
    X's CRC ``GET`` with a ``crc_token`` is answered with ``sha256=`` and
    the base64 HMAC of the token under the consumer secret.
    """
    gateway = await start_all_providers(services)
    token = "9b4507b3-9040-4669-9ffd-34b9bd0e2ff3"
    answer = await gateway.send(f"/webhooks/twitter?crc_token={token}", method="GET")
    assert answer.code == 200, answer
    expected = b64_hmac(SECRETS["twitter"]["consumer_secret"], token.encode())
    assert answer.json() == {"response_token": expected}
