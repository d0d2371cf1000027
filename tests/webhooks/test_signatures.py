"""
Tests of ``verify`` that hold for every provider: a signed sample verifies
and parses, and any change to the body, the signature or the secret, or a
missing signature, is refused.
"""

from __future__ import annotations

import pytest

from action_llama.webhooks import PROVIDERS, Verdict

from .support import (
    KEY_FIELDS,
    NOW,
    SAMPLES,
    SECRETS,
    SIGNATURE_HEADERS,
    fixture,
    flip_bit,
    flip_secret,
    flip_signature,
    sign,
)

NAMES = sorted(PROVIDERS)
BITS = [0, 9, -1]
"""
Bit positions to flip: the first, one inside, and the last.
"""

BAD = Verdict(False, "bad_signature")


def _sample(provider: str) -> tuple[dict[str, str], bytes]:
    path, headers = SAMPLES[provider]
    body = fixture(path)
    return {**headers, **sign(provider, body)}, body


@pytest.mark.parametrize("provider", NAMES)
def test_signed_sample_verifies_and_parses(provider: str) -> None:
    """
    A delivery signed the way the provider signs verifies, then parses.
    """
    headers, body = _sample(provider)
    plugin = PROVIDERS[provider]
    assert plugin.verify(headers, body, SECRETS[provider], NOW) == Verdict(True)
    assert plugin.parse(headers, body).provider == provider


@pytest.mark.parametrize("bit", BITS)
@pytest.mark.parametrize("provider", NAMES)
def test_flipped_body_bit_is_refused(provider: str, bit: int) -> None:
    """
    A body with one bit changed after signing gets ``bad_signature``.
    """
    headers, body = _sample(provider)
    verdict = PROVIDERS[provider].verify(
        headers, flip_bit(body, bit), SECRETS[provider], NOW
    )
    assert verdict == BAD


@pytest.mark.parametrize("bit", BITS)
@pytest.mark.parametrize("provider", NAMES)
def test_flipped_signature_bit_is_refused(provider: str, bit: int) -> None:
    """
    A signature with one bit changed gets ``bad_signature``.
    """
    headers, body = _sample(provider)
    tampered = flip_signature(provider, headers, bit)
    verdict = PROVIDERS[provider].verify(tampered, body, SECRETS[provider], NOW)
    assert verdict == BAD


@pytest.mark.parametrize("bit", BITS)
@pytest.mark.parametrize("provider", NAMES)
def test_flipped_secret_bit_is_refused(provider: str, bit: int) -> None:
    """
    Checking against a secret that differs in one bit gets ``bad_signature``.
    """
    headers, body = _sample(provider)
    verdict = PROVIDERS[provider].verify(headers, body, flip_secret(provider, bit), NOW)
    assert verdict == BAD


@pytest.mark.parametrize("provider", NAMES)
def test_missing_signature_is_refused(provider: str) -> None:
    """
    A delivery without its signature header, when a secret is configured,
    gets ``missing_signature``.
    """
    headers, body = _sample(provider)
    del headers[SIGNATURE_HEADERS[provider]]
    verdict = PROVIDERS[provider].verify(headers, body, SECRETS[provider], NOW)
    assert verdict == Verdict(False, "missing_signature")


@pytest.mark.parametrize("provider", NAMES)
def test_empty_signature_is_refused(provider: str) -> None:
    """
    An empty signature header counts as missing.
    """
    headers, body = _sample(provider)
    headers[SIGNATURE_HEADERS[provider]] = ""
    verdict = PROVIDERS[provider].verify(headers, body, SECRETS[provider], NOW)
    assert verdict == Verdict(False, "missing_signature")


@pytest.mark.parametrize("provider", NAMES)
def test_no_secret_is_unsigned(provider: str) -> None:
    """
    Without a secret nothing is checked, even a bad signature, and the
    verdict says ``unsigned`` so the caller can decide.
    """
    headers, body = _sample(provider)
    tampered = flip_signature(provider, headers, 0)
    assert PROVIDERS[provider].verify(tampered, body, None, NOW) == Verdict(
        True, "unsigned"
    )


@pytest.mark.parametrize("provider", NAMES)
def test_secret_without_key_field_is_refused(provider: str) -> None:
    """
    A credential lacking the field the provider verifies with verifies
    nothing.
    """
    headers, body = _sample(provider)
    secret = {
        key: value
        for key, value in SECRETS[provider].items()
        if key != KEY_FIELDS[provider]
    }
    assert PROVIDERS[provider].verify(headers, body, secret, NOW) == BAD


@pytest.mark.parametrize("provider", NAMES)
def test_garbage_signature_is_refused(provider: str) -> None:
    """
    A signature header that is not even well-formed, non-ASCII included,
    gets ``bad_signature`` rather than an exception.
    """
    headers, body = _sample(provider)
    headers[SIGNATURE_HEADERS[provider]] = "sha256=zz\u00e9\ud800"
    verdict = PROVIDERS[provider].verify(headers, body, SECRETS[provider], NOW)
    assert verdict == BAD
