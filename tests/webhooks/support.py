"""
What the webhook tests share: fixtures, credentials, and signing requests
the way each provider does, written independently of the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from action_llama.config import WebhookTrigger

FIXTURES = Path(__file__).parent / "fixtures"

NOW = 1_716_199_200.0
"""
2024-05-20T10:00:00Z, the moment the timestamped fixtures were sent.
"""

DISCORD_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
"""
The Discord application's signing key; its public half is in `SECRETS`.
"""

SECRETS: Mapping[str, Mapping[str, str]] = {
    "github": {"secret": "It's a Secret to Everybody"},
    "sentry": {"secret": "3a7c1e9b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f"},
    "linear": {"secret": "lin_wh_0b1c2d3e4f5a6b7c8d9e"},
    "mintlify": {"secret": "mint_whsec_5e6f7a8b9c0d"},
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
"""
A credential for each provider, by provider name.
"""

KEY_FIELDS = {
    "github": "secret",
    "sentry": "secret",
    "linear": "secret",
    "mintlify": "secret",
    "slack": "secret",
    "discord": "public_key",
    "twitter": "consumer_secret",
}
"""
The credential field each provider verifies with.
"""

SIGNATURE_HEADERS = {
    "github": "x-hub-signature-256",
    "sentry": "sentry-hook-signature",
    "linear": "linear-signature",
    "mintlify": "x-mintlify-signature",
    "slack": "x-slack-signature",
    "discord": "x-signature-ed25519",
    "twitter": "x-twitter-webhooks-signature",
}
"""
The header carrying each provider's signature.
"""

_PREFIXES = {"github": "sha256=", "slack": "v0=", "twitter": "sha256="}

SAMPLES = {
    "github": ("github/issues.opened.json", {"x-github-event": "issues"}),
    "sentry": ("sentry/issue.created.json", {"sentry-hook-resource": "issue"}),
    "linear": ("linear/issue.create.json", {}),
    "mintlify": ("mintlify/deployment.json", {}),
    "slack": ("slack/app_mention.json", {"content-type": "application/json"}),
    "discord": ("discord/application_command.json", {}),
    "twitter": ("twitter/tweet_create.json", {}),
}
"""
For each provider, a fixture that parses, and the headers it needs besides
the signature.
"""


def fixture(name: str) -> bytes:
    """
    The bytes of a fixture file, named relative to ``fixtures/``.
    """
    return (FIXTURES / name).read_bytes()


def _hmac(key: str, message: bytes) -> bytes:
    return hmac.new(key.encode(), message, hashlib.sha256).digest()


def _github(secret: Mapping[str, str], body: bytes, now: float) -> dict[str, str]:
    return {"x-hub-signature-256": "sha256=" + _hmac(secret["secret"], body).hex()}


def _sentry(secret: Mapping[str, str], body: bytes, now: float) -> dict[str, str]:
    return {
        "sentry-hook-signature": _hmac(secret["secret"], body).hex(),
        "sentry-hook-timestamp": str(int(now)),
    }


def _linear(secret: Mapping[str, str], body: bytes, now: float) -> dict[str, str]:
    return {"linear-signature": _hmac(secret["secret"], body).hex()}


def _mintlify(secret: Mapping[str, str], body: bytes, now: float) -> dict[str, str]:
    return {"x-mintlify-signature": _hmac(secret["secret"], body).hex()}


def _slack(secret: Mapping[str, str], body: bytes, now: float) -> dict[str, str]:
    stamp = str(int(now))
    base = b"v0:" + stamp.encode() + b":" + body
    return {
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": "v0=" + _hmac(secret["secret"], base).hex(),
    }


def _discord(secret: Mapping[str, str], body: bytes, now: float) -> dict[str, str]:
    stamp = str(int(now))
    signature = DISCORD_KEY.sign(stamp.encode() + body)
    return {"x-signature-timestamp": stamp, "x-signature-ed25519": signature.hex()}


def _twitter(secret: Mapping[str, str], body: bytes, now: float) -> dict[str, str]:
    digest = _hmac(secret["consumer_secret"], body)
    return {
        "x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode()
    }


_SIGNERS: Mapping[str, Callable[[Mapping[str, str], bytes, float], dict[str, str]]] = {
    "github": _github,
    "sentry": _sentry,
    "linear": _linear,
    "mintlify": _mintlify,
    "slack": _slack,
    "discord": _discord,
    "twitter": _twitter,
}


def sign(provider: str, body: bytes, now: float = NOW) -> dict[str, str]:
    """
    The headers with which ``provider`` would send ``body`` at ``now``,
    signed with its credential in `SECRETS`.
    """
    return _SIGNERS[provider](SECRETS[provider], body, now)


def flip_bit(data: bytes, bit: int) -> bytes:
    """
    ``data`` with one bit inverted; negative bits count from the end.
    """
    index, offset = divmod(bit % (len(data) * 8), 8)
    flipped = bytearray(data)
    flipped[index] ^= 1 << offset
    return bytes(flipped)


def flip_signature(
    provider: str, headers: Mapping[str, str], bit: int
) -> dict[str, str]:
    """
    ``headers`` with one bit of the decoded signature inverted.
    """
    name = SIGNATURE_HEADERS[provider]
    prefix = _PREFIXES.get(provider, "")
    encoded = headers[name].removeprefix(prefix)
    if provider == "twitter":
        value = base64.b64encode(flip_bit(base64.b64decode(encoded), bit)).decode()
    else:
        value = flip_bit(bytes.fromhex(encoded), bit).hex()
    return {**headers, name: prefix + value}


def flip_secret(provider: str, bit: int) -> dict[str, str]:
    """
    The provider's credential with one bit of its key field inverted.
    """
    field = KEY_FIELDS[provider]
    value = SECRETS[provider][field]
    if provider == "discord":
        flipped = flip_bit(bytes.fromhex(value), bit).hex()
    else:
        flipped = flip_bit(value.encode(), bit).decode("latin-1")
    return {**SECRETS[provider], field: flipped}


def trigger(source: str = "src", /, **filters: str | tuple[str, ...]) -> WebhookTrigger:
    """
    A ``[[webhooks]]`` trigger on ``source``; a single string filter value
    becomes a 1-tuple, as the config loader does.
    """
    return WebhookTrigger(
        source,
        {
            key: (value,) if isinstance(value, str) else value
            for key, value in filters.items()
        },
    )


def exercised(
    cases: Iterable[tuple[Any, Mapping[str, Any], bool]], outcome: bool
) -> set[str]:
    """
    The filter keys of the ``(subject, filters, expected)`` cases that
    expect ``outcome``.
    """
    return {
        key for _, filters, expected in cases if expected is outcome for key in filters
    }
