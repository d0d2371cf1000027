"""
GitHub deliveries with real payloads (from ``@octokit/webhooks-examples``),
signed as GitHub signs them, against the real gateway: each is accepted,
parsed and matched; GitHub's published test vector verifies; one flipped bit
anywhere is refused; form-encoded hooks work.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_twisted

from .webhook_harness import (
    FIXTURES,
    SECRETS,
    Delivery,
    Gateway,
    Services,
    github_delivery,
    github_headers,
    store_secret,
    tampered,
    write_webhook_project,
)

GITHUB_FIXTURES = sorted(p.name for p in (FIXTURES / "github").glob("*.json"))

#: GitHub's published example: this secret and payload give this signature
#: ("Validating webhook deliveries", GitHub Docs).
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_PAYLOAD = b"Hello, World!"
VECTOR_SIGNATURE = (
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)


@pytest_twisted.async_yield_fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    """
    Services started by one test, stopped after it.
    """
    started = Services(tmp_path)
    yield started
    await started.stop_all()


def agent_for(name: str) -> str:
    """
    The agent that matches the fixture ``name``: one per event and action.
    """
    payload = json.loads((FIXTURES / "github" / name).read_text())
    return "-".join([name.split(".")[0], *filter(None, [payload.get("action")])])


def github_project(root: Path) -> Path:
    """
    A project with a signed ``github`` source and one agent for each event
    and action among the fixtures, filtering on exactly those.
    """
    agents: dict[str, dict[str, Any]] = {}
    for name in GITHUB_FIXTURES:
        payload = json.loads((FIXTURES / "github" / name).read_text())
        trigger: dict[str, Any] = {"source": "github", "events": [name.split(".")[0]]}
        if "action" in payload:
            trigger["actions"] = [payload["action"]]
        agents[agent_for(name)] = {"webhooks": [trigger]}
    return write_webhook_project(root, {"github": ("github", "test")}, agents)


async def start_github(services: Services, secret: str | None = None) -> Gateway:
    """
    Store the GitHub secret (or ``secret``) and start `github_project`.
    """
    store_secret("github", None if secret is None else {"secret": secret})
    return await services.start(github_project(services.tmp_path / "p"))


@pytest.mark.parametrize("name", GITHUB_FIXTURES)
@pytest_twisted.ensureDeferred
async def test_real_payload_is_accepted_parsed_and_matched(
    services: Services, name: str
) -> None:
    """
    A real GitHub payload, signed as GitHub signs it, is accepted, parsed,
    and runs exactly the agent for its event and action with its context.
    """
    gateway = await start_github(services)
    sent = github_delivery(name)
    answer = await gateway.deliver("/webhooks/github", sent)
    assert answer.code == 200, answer
    body = answer.json()
    assert body.get("deadLetterReason") is None, body
    assert body["matched"] == [agent_for(name)]
    receipt = await gateway.receipt(body["receiptId"])
    assert receipt["event"] == name.split(".")[0]
    assert receipt["deliveryId"] == sent.delivery_id
    assert receipt["body"].encode() == sent.body
    runs = await gateway.runs_of(body["receiptId"])
    context = (await gateway.seen(runs[agent_for(name)]))["context"]
    payload = json.loads(sent.body)
    assert context["event"] == name.split(".")[0]
    assert context["action"] == payload.get("action")
    assert context["repo"] == payload.get("repository", {}).get("full_name")
    assert context["sender"] == payload["sender"]["login"]


@pytest_twisted.ensureDeferred
async def test_published_test_vector_verifies(services: Services) -> None:
    """
    GitHub's published example signature verifies over HTTP: the delivery
    is accepted (it is no event, so it is stored as unparseable), not 401.
    """
    expected = hmac.new(
        VECTOR_SECRET.encode(), VECTOR_PAYLOAD, hashlib.sha256
    ).hexdigest()
    assert "sha256=" + expected == VECTOR_SIGNATURE
    gateway = await start_github(services, VECTOR_SECRET)
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": VECTOR_SIGNATURE,
    }
    answer = await gateway.send("/webhooks/github", VECTOR_PAYLOAD, headers)
    assert answer.code == 200, answer
    assert answer.json()["deadLetterReason"] == "parse_error"
    receipt = await gateway.receipt(answer.json()["receiptId"])
    assert receipt["verdict"] == "verified"


def flipped_signature(sent: Delivery) -> Delivery:
    """
    ``sent`` with one bit of its signature's digest flipped.
    """
    digest = bytearray(
        bytes.fromhex(sent.headers["X-Hub-Signature-256"].removeprefix("sha256="))
    )
    digest[0] ^= 0x80
    headers = dict(sent.headers, **{"X-Hub-Signature-256": "sha256=" + digest.hex()})
    return Delivery(sent.body, headers, sent.delivery_id)


def flipped_secret() -> str:
    """
    The test secret with one bit of its first byte flipped.
    """
    secret = SECRETS["github"]["secret"]
    return chr(ord(secret[0]) ^ 0x01) + secret[1:]


@pytest.mark.parametrize("where", ["body", "signature", "secret"])
@pytest_twisted.ensureDeferred
async def test_one_flipped_bit_is_refused(services: Services, where: str) -> None:
    """
    One bit changed in the body, the signature or the stored secret gets
    401, a ``bad_signature`` dead letter, and no run.
    """
    gateway = await start_github(
        services, flipped_secret() if where == "secret" else None
    )
    sent = github_delivery()
    if where == "body":
        sent = tampered(sent)
    elif where == "signature":
        sent = flipped_signature(sent)
    answer = await gateway.deliver("/webhooks/github", sent)
    assert answer.code == 401, answer
    [dead] = await gateway.triggers(dead_letter=True)
    assert dead["deadLetterReason"] == "bad_signature"
    assert [t for t in await gateway.triggers() if t["agentName"]] == []
    assert gateway.seen_count() == 0


@pytest_twisted.ensureDeferred
async def test_form_encoded_delivery_is_accepted(services: Services) -> None:
    """
    A hook set to ``application/x-www-form-urlencoded`` sends the JSON in a
    ``payload`` field, signed as sent; it is accepted and runs its agent.
    """
    gateway = await start_github(services)
    payload = (FIXTURES / "github" / "pull_request.opened.json").read_text()
    body = urlencode({"payload": payload}).encode()
    headers = github_headers(
        body,
        SECRETS["github"]["secret"],
        "pull_request",
        str(uuid.uuid4()),
        "application/x-www-form-urlencoded",
    )
    answer = await gateway.send("/webhooks/github", body, headers)
    assert answer.code == 200, answer
    assert answer.json()["matched"] == ["pull_request-opened"]
    runs = await gateway.runs_of(answer.json()["receiptId"])
    context = (await gateway.seen(runs["pull_request-opened"]))["context"]
    assert context["number"] == json.loads(payload)["number"]
    assert context["title"] == json.loads(payload)["pull_request"]["title"]
