"""
What the webhook integration tests share: projects with webhook sources and
agents whose runs record the trigger they were given, the whole service
started on the real reactor, and deliveries signed the way each provider
signs them.

The signing helpers follow each provider's published scheme and never call
our own verification code, so a mistake on either side shows up as a test
failure rather than cancelling out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import treq
from attrs import frozen
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from twisted.internet.defer import Deferred, DeferredList
from twisted.web.http_headers import Headers

from action_llama.credentials import WEBHOOK_SECRET_TYPES, CredentialStore

from .harness import RunningProject, listening, project_service, toml_value, within

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "webhooks" / "fixtures"

#: The hook every test agent runs: it keeps the trigger it was given, under
#: the project's ``.al`` directory, named after the run.
RECORD = 'cat "$AL_TRIGGER_FILE" > "$AL_RUN_DIR/../../seen-$AL_INSTANCE_ID.json"'

#: The credential instance every signed test source names.
INSTANCE = "test"

PROVIDERS = ("github", "sentry", "linear", "mintlify", "slack", "discord", "twitter")

#: The Discord application's signing key for the tests.
DISCORD_KEY = Ed25519PrivateKey.generate()

#: The credential fields of each provider's signed source.
SECRETS: Mapping[str, Mapping[str, str]] = {
    "github": {"secret": "gh-webhook-secret-for-tests"},
    "sentry": {"secret": "sentry-client-secret-for-tests"},
    "linear": {"secret": "lin_wh_secret_for_tests"},
    "mintlify": {"secret": "mintlify-secret-for-tests"},
    "slack": {"secret": "8f742231b10e8888abcd99yyyzzz85a5"},
    "discord": {
        "application_id": "775799577604522054",
        "public_key": DISCORD_KEY.public_key().public_bytes_raw().hex(),
        "bot_token": "not-a-real-bot-token",
    },
    "twitter": {
        "consumer_key": "xvz1evFS4wEEPTGEFPHBog",
        "consumer_secret": "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        "bearer_token": "not-a-real-bearer-token",
    },
}


def store_secret(provider: str, fields: Mapping[str, str] | None = None) -> None:
    """
    Store ``fields`` (by default the provider's test secret) as the
    credential of the provider's signed test sources.
    """
    kind = WEBHOOK_SECRET_TYPES[provider]
    for name, value in (fields or SECRETS[provider]).items():
        CredentialStore().write(kind, INSTANCE, name, value)


def store_all_secrets() -> None:
    """
    Store the test secret of every provider.
    """
    for provider in PROVIDERS:
        store_secret(provider)


# -- projects -----------------------------------------------------------------


def write_webhook_project(
    root: Path,
    sources: Mapping[str, tuple[str, str | None]],
    agents: Mapping[str, Mapping[str, Any]],
    settings: Mapping[str, Any] | None = None,
) -> Path:
    """
    Write a project of script agents that webhooks run.

    :param sources: source name to its provider type and credential
        instance (``None`` for an unsigned source).
    :param agents: agent name to its settings: ``webhooks``, a list of
        ``[[webhooks]]`` entries (``source`` plus filters); ``pre``, its
        hooks (by default `RECORD`); any other top-level ``config.toml``
        key (``scale``, ``maxWorkQueueSize``, ...).
    :param settings: top-level keys of the project's ``config.toml``.
    :returns: ``root``.
    """
    lines = [f"{k} = {toml_value(v)}" for k, v in (settings or {}).items()]
    for name, (kind, credential) in sources.items():
        lines += ["", f"[webhooks.{name}]", f"type = {toml_value(kind)}"]
        if credential is not None:
            lines.append(f"credential = {toml_value(credential)}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text("\n".join(lines) + "\n")
    for name, agent in agents.items():
        directory = root / "agents" / name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "SKILL.md").write_text(
            f"---\ndescription: {name}, run by webhooks\n---\nA script agent.\n"
        )
        write_agent_config(root, name, agent)
    return root


def write_agent_config(root: Path, name: str, agent: Mapping[str, Any]) -> None:
    """
    Write (or rewrite) one agent's ``config.toml``; see
    `write_webhook_project` for ``agent``.
    """
    top = {k: v for k, v in agent.items() if k not in ("webhooks", "pre")}
    lines = [f"{k} = {toml_value(v)}" for k, v in top.items()]
    for trigger in agent.get("webhooks", ()):
        lines += ["", "[[webhooks]]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in trigger.items()]
    lines += ["", "[hooks]", f"pre = {toml_value(agent.get('pre', [RECORD]))}"]
    (root / "agents" / name / "config.toml").write_text("\n".join(lines) + "\n")


#: For each provider, filters one of its agents matches (``<p>-hit``) and
#: the other does not (``<p>-miss``), for the deliveries of `delivery`.
FILTERS: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]] = {
    "github": (
        {"events": ["issues"], "actions": ["opened"]},
        {"events": ["push"]},
    ),
    "sentry": ({"resources": ["issue"]}, {"resources": ["metric_alert"]}),
    "linear": (
        {"events": ["Issue"], "actions": ["create"]},
        {"events": ["Comment"]},
    ),
    "mintlify": ({"events": ["deployment"]}, {"events": ["page_updated"]}),
    "slack": ({"events": ["app_mention"]}, {"commands": ["/deploy"]}),
    "discord": ({"commands": ["cardsearch"]}, {"commands": ["shutdown"]}),
    "twitter": (
        {"events": ["tweet_create_events"]},
        {"events": ["follow_events"]},
    ),
}


def all_providers_project(root: Path) -> Path:
    """
    A project with, for each provider, a signed source ``<p>-signed`` (its
    credential instance is `INSTANCE`) and an unsigned one ``<p>-open``, and
    two agents on both: ``<p>-hit`` and ``<p>-miss`` (see `FILTERS`).
    """
    sources: dict[str, tuple[str, str | None]] = {}
    agents: dict[str, dict[str, Any]] = {}
    for provider in PROVIDERS:
        sources[f"{provider}-signed"] = (provider, INSTANCE)
        sources[f"{provider}-open"] = (provider, None)
        for suffix, filters in zip(("hit", "miss"), FILTERS[provider]):
            agents[f"{provider}-{suffix}"] = {
                "webhooks": [
                    {"source": f"{provider}-{kind}", **filters}
                    for kind in ("signed", "open")
                ]
            }
    return write_webhook_project(root, sources, agents)


# -- deliveries, signed as each provider signs them ----------------------------


@frozen
class Delivery:
    """
    One request as a provider sends it.

    :ivar body: the raw body.
    :ivar headers: the request headers.
    :ivar delivery_id: the provider's own id for it, if it has one.
    """

    body: bytes
    headers: Mapping[str, str]
    delivery_id: str | None = None


def fixture(provider: str, name: str) -> bytes:
    """
    The bytes of a payload fixture under ``tests/webhooks/fixtures``.
    """
    return (FIXTURES / provider / name).read_bytes()


def hex_hmac(secret: str, message: bytes) -> str:
    """
    The hex HMAC-SHA256 of ``message`` under ``secret``.
    """
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def github_headers(
    body: bytes,
    secret: str | None,
    event: str,
    delivery_id: str,
    content_type: str = "application/json",
) -> dict[str, str]:
    """
    GitHub's headers: ``X-Hub-Signature-256: sha256=<hex HMAC of the body>``
    (left out when ``secret`` is ``None``), the event and the delivery id.
    """
    headers = {
        "Content-Type": content_type,
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id,
        "X-GitHub-Hook-ID": "292430182",
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = "sha256=" + hex_hmac(secret, body)
    return headers


def github_delivery(
    name: str = "issues.opened.json",
    secret: str | None = SECRETS["github"]["secret"],
    delivery_id: str | None = None,
) -> Delivery:
    """
    A GitHub delivery of the fixture ``name`` (``<event>.<...>.json``).
    """
    body = fixture("github", name)
    delivery_id = delivery_id or str(uuid.uuid4())
    headers = github_headers(body, secret, name.split(".")[0], delivery_id)
    return Delivery(body, headers, delivery_id)


def sentry_delivery(secret: str | None) -> Delivery:
    """
    A Sentry ``issue`` delivery: ``Sentry-Hook-Signature`` is the hex HMAC
    of the body under the client secret.
    """
    body = fixture("sentry", "issue.created.json")
    request_id = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "Request-ID": request_id,
        "Sentry-Hook-Resource": "issue",
        "Sentry-Hook-Timestamp": str(int(time.time())),
    }
    if secret is not None:
        headers["Sentry-Hook-Signature"] = hex_hmac(secret, body)
    return Delivery(body, headers, request_id)


def linear_delivery(secret: str | None) -> Delivery:
    """
    A Linear ``Issue`` ``create`` delivery, timestamped now (Linear signs
    ``webhookTimestamp`` with the body): ``Linear-Signature`` is the hex
    HMAC of the body.
    """
    payload = json.loads(fixture("linear", "issue.create.json"))
    payload["webhookTimestamp"] = int(time.time() * 1000)
    body = json.dumps(payload).encode()
    delivery_id = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Linear-Delivery": delivery_id,
        "Linear-Event": "Issue",
        "User-Agent": "Linear-Webhook",
    }
    if secret is not None:
        headers["Linear-Signature"] = hex_hmac(secret, body)
    return Delivery(body, headers, delivery_id)


def mintlify_delivery(secret: str | None) -> Delivery:
    """
    A Mintlify ``deployment`` delivery: ``X-Mintlify-Signature`` is the hex
    HMAC of the body.
    """
    body = fixture("mintlify", "deployment.json")
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Mintlify-Signature"] = hex_hmac(secret, body)
    return Delivery(body, headers)


def slack_headers(body: bytes, secret: str | None, stamp: int) -> dict[str, str]:
    """
    Slack's headers: ``X-Slack-Signature: v0=<hex HMAC of "v0:<stamp>:" and
    the body>`` and the timestamp it covers.
    """
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(stamp),
    }
    if secret is not None:
        base = b"v0:" + str(stamp).encode() + b":" + body
        headers["X-Slack-Signature"] = "v0=" + hex_hmac(secret, base)
    return headers


def slack_delivery(
    secret: str | None,
    event_id: str | None = None,
    stamp: int | None = None,
) -> Delivery:
    """
    A Slack Events API ``app_mention`` callback with a fresh ``event_id``
    (or ``event_id``), signed at ``stamp`` (by default now).
    """
    payload = json.loads(fixture("slack", "app_mention.json"))
    payload["event_id"] = event_id or "Ev" + uuid.uuid4().hex[:10].upper()
    body = json.dumps(payload).encode()
    stamp = int(time.time()) if stamp is None else stamp
    return Delivery(body, slack_headers(body, secret, stamp), payload["event_id"])


def discord_headers(
    body: bytes, key: Ed25519PrivateKey | None, stamp: str | None = None
) -> dict[str, str]:
    """
    Discord's headers: ``X-Signature-Ed25519`` is the hex Ed25519 signature
    of ``X-Signature-Timestamp`` followed by the body.
    """
    stamp = stamp or str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Signature-Timestamp": stamp}
    if key is not None:
        headers["X-Signature-Ed25519"] = key.sign(stamp.encode() + body).hex()
    return headers


def discord_delivery(key: Ed25519PrivateKey | None) -> Delivery:
    """
    A Discord ``/cardsearch`` application command with a fresh interaction
    id.
    """
    payload = json.loads(fixture("discord", "application_command.json"))
    payload["id"] = str(uuid.uuid4().int >> 64)
    body = json.dumps(payload).encode()
    return Delivery(body, discord_headers(body, key), payload["id"])


def b64_hmac(secret: str, message: bytes) -> str:
    """
    X's rendering of an HMAC-SHA256: ``sha256=<base64 digest>``.
    """
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def twitter_delivery(secret: str | None) -> Delivery:
    """
    An X Account Activity ``tweet_create_events`` delivery with a fresh
    tweet id: ``X-Twitter-Webhooks-Signature`` is ``sha256=`` and the base64
    HMAC of the body under the consumer secret.
    """
    payload = json.loads(fixture("twitter", "tweet_create.json"))
    tweet_id = str(uuid.uuid4().int >> 66)
    payload["tweet_create_events"][0].update(id=int(tweet_id), id_str=tweet_id)
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Twitter-Webhooks-Signature"] = b64_hmac(secret, body)
    return Delivery(body, headers)


def delivery(provider: str, signed: bool = True) -> Delivery:
    """
    A fresh delivery from ``provider`` that its ``<p>-hit`` agent matches,
    signed with the test secret unless ``signed`` is false.
    """
    secret = SECRETS[provider]
    if provider == "github":
        return github_delivery(secret=secret["secret"] if signed else None)
    if provider == "discord":
        return discord_delivery(DISCORD_KEY if signed else None)
    if provider == "twitter":
        return twitter_delivery(secret["consumer_secret"] if signed else None)
    makers = {
        "sentry": sentry_delivery,
        "linear": linear_delivery,
        "mintlify": mintlify_delivery,
        "slack": slack_delivery,
    }
    return makers[provider](secret["secret"] if signed else None)


def tampered(original: Delivery) -> Delivery:
    """
    ``original`` with one bit of its body flipped after signing.
    """
    body = bytearray(original.body)
    body[len(body) // 2] ^= 0x01
    return Delivery(bytes(body), original.headers, original.delivery_id)


# -- the running service --------------------------------------------------------


@frozen
class Answer:
    """
    The gateway's answer to one request.

    :ivar code: the HTTP status.
    :ivar body: the raw body.
    :ivar content_type: the ``Content-Type`` header, if any.
    """

    code: int
    body: bytes
    content_type: str | None

    def json(self) -> Any:
        """
        The body decoded as JSON.
        """
        return json.loads(self.body)


class Gateway:
    """
    A started service on a webhook project, and what the tests ask of it.

    :ivar running: the running project (see ``harness.RunningProject``).
    """

    def __init__(self, running: RunningProject) -> None:
        self.running = running

    @property
    def url(self) -> str:
        """
        The gateway's base URL.
        """
        return self.running.base_url

    @property
    def root(self) -> Path:
        """
        The project directory.
        """
        return self.running.root

    async def send(
        self,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        method: str = "POST",
    ) -> Answer:
        """
        Send a request without the API key, as a webhook sender does.
        """
        response = await within(
            treq.request(
                method,
                self.url + path,
                data=body if method != "GET" else None,
                headers=Headers({k: [v] for k, v in (headers or {}).items()}),
            ),
            f"{method} {path}",
        )
        content = await within(response.content(), f"the body of {method} {path}")
        types = response.headers.getRawHeaders("content-type")
        return Answer(response.code, content, types[0] if types else None)

    async def deliver(self, path: str, sent: Delivery) -> Answer:
        """
        POST ``sent`` to ``path`` (such as ``/webhooks/github``).
        """
        return await self.send(path, sent.body, sent.headers)

    async def api(self, method: str, path: str) -> tuple[int, Any]:
        """
        Send an authenticated request; give the status and decoded JSON.
        """
        return await self.running.request(method, path)

    async def triggers(
        self, dead_letter: bool = False, limit: int = 100
    ) -> list[dict[str, Any]]:
        """
        The newest page of ``/api/stats/triggers``.
        """
        query = f"?limit={limit}" + ("&deadLetter=true" if dead_letter else "")
        code, body = await self.api("GET", "/api/stats/triggers" + query)
        assert code == 200, body
        return list(body["triggers"])

    async def runs_of(self, receipt_id: str) -> dict[str, str]:
        """
        The runs a receipt started, from the trigger history: agent name to
        instance id.
        """
        return {
            t["agentName"]: t["instanceId"]
            for t in await self.triggers()
            if t["webhookReceiptId"] == receipt_id and t["instanceId"]
        }

    async def receipt(self, receipt_id: str) -> dict[str, Any]:
        """
        ``GET /api/stats/webhooks/<receipt_id>``, which must exist.
        """
        code, body = await self.api("GET", f"/api/stats/webhooks/{receipt_id}")
        assert code == 200, body
        return dict(body)

    async def seen(self, instance_id: str) -> dict[str, Any]:
        """
        The trigger a run was given, once the run has ended.
        """
        record = await self.running.ended(instance_id)
        assert record.outcome == "completed", record
        path = self.root / ".al" / f"seen-{instance_id}.json"
        return dict(json.loads(path.read_text()))

    def seen_count(self) -> int:
        """
        How many runs have recorded the trigger they were given.
        """
        return len(list((self.root / ".al").glob("seen-*.json")))

    async def settled(self) -> None:
        """
        Wait until no agent has anything running or queued.
        """
        scheduler = self.running.scheduler
        await self.running.until(
            lambda: all(self.running.idle(n) for n in scheduler.agent_names()),
            "every agent to be idle",
        )

    async def stop(self) -> None:
        """
        Kill whatever still runs, then stop the service.
        """
        await self.running.stop()


class Services:
    """
    Starts services on webhook projects for one test, and stops them all
    afterwards.
    """

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self._started: list[Gateway] = []

    async def start(self, root: Path) -> Gateway:
        """
        Start the whole service on the project at ``root`` on a free port.

        :returns: the gateway, once it listens and the scheduler is ready.
        """
        running = await listening(project_service(root))
        gateway = Gateway(running)
        self._started.append(gateway)
        await within(running.scheduler.ready, "the scheduler to be ready")
        return gateway

    async def stop(self, gateway: Gateway) -> None:
        """
        Stop one of the services this started.
        """
        self._started.remove(gateway)
        await gateway.stop()

    async def stop_all(self) -> None:
        """
        Stop every service still running.
        """
        started, self._started = self._started, []
        await DeferredList(
            [Deferred.fromCoroutine(g.stop()) for g in started], consumeErrors=False
        )


def only(items: Sequence[Any]) -> Any:
    """
    The single item of ``items``.
    """
    assert len(items) == 1, items
    return items[0]
