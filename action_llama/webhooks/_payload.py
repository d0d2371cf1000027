"""
Helpers the providers share: constant-time HMAC checks, and reading
untrusted JSON and form bodies without ever raising anything but
`ParseError`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from ._model import (
    BAD_SIGNATURE,
    MISSING_SIGNATURE,
    UNSIGNED,
    VERIFIED,
    Headers,
    ParseError,
    Verdict,
)

FORM = "application/x-www-form-urlencoded"

_EPOCH_RE = re.compile(r"[0-9]{1,16}(?:\.[0-9]{1,9})?")


def to_bytes(text: str) -> bytes:
    """
    Encode text as UTF-8, even text holding lone surrogates.

    :param text: a header value or secret.
    """
    return text.encode("utf-8", "surrogatepass")


def same(expected: str, given: str) -> bool:
    """
    Compare a computed signature with the one a request carries, in
    constant time.

    :param expected: the signature we computed.
    :param given: the signature from the request.
    """
    return hmac.compare_digest(to_bytes(expected), to_bytes(given))


def hmac_sha256(key: str, message: bytes) -> bytes:
    """
    The HMAC-SHA256 of ``message`` under ``key``.

    :param key: the shared secret, as text.
    :param message: what was signed.
    """
    return hmac.new(to_bytes(key), message, hashlib.sha256).digest()


def secret_value(secret: Mapping[str, str] | None, name: str) -> str | None:
    """
    One field of a credential, or ``None`` when it is absent or empty.

    :param secret: the credential's fields.
    :param name: the field, such as ``"secret"``.
    """
    if secret is None:
        return None
    return secret.get(name) or None


def hmac_verdict(
    secret: Mapping[str, str] | None,
    field: str,
    given: str | None,
    message: bytes,
    render: Callable[[bytes], str],
) -> Verdict:
    """
    Check an HMAC-SHA256 signature.

    :param secret: the credential's fields, or ``None`` for an unsigned
        source.
    :param field: the credential field holding the key.
    :param given: the signature the request carries, if any.
    :param message: what the provider signed.
    :param render: how the provider writes a digest into its header.
    """
    if secret is None:
        return UNSIGNED
    if not given:
        return MISSING_SIGNATURE
    key = secret_value(secret, field)
    if key is None:
        return BAD_SIGNATURE
    expected = render(hmac_sha256(key, message))
    return VERIFIED if same(expected, given) else BAD_SIGNATURE


def within(now: float, then: float, window: float) -> bool:
    """
    Whether ``then`` is at most ``window`` seconds from ``now``, either way;
    never true for a NaN.

    :param now: the current time, in seconds since the epoch.
    :param then: the time a request claims, in seconds since the epoch.
    :param window: the tolerance, in seconds.
    """
    return abs(now - then) <= window


def content_type(headers: Headers) -> str:
    """
    The media type of a request, lower-cased and without parameters.

    :param headers: the request headers.
    """
    return headers.get("content-type", "").split(";")[0].strip().lower()


def load_json(body: bytes | str) -> dict[str, Any]:
    """
    Read a body that must be one JSON object.

    :param body: the raw body.
    :raises ParseError: if it is not JSON, or not an object.
    """
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise ParseError(f"the body is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ParseError("the body is JSON but not an object")
    return value


def maybe_json(body: bytes) -> dict[str, Any] | None:
    """
    Read a body as one JSON object, or ``None`` when it is not one.

    :param body: the raw body.
    """
    try:
        return load_json(body)
    except ParseError:
        return None


def load_form(body: bytes) -> dict[str, str]:
    """
    Read an ``application/x-www-form-urlencoded`` body; a repeated field
    keeps its last value.

    :param body: the raw body.
    :raises ParseError: if it is not UTF-8.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ParseError(f"the form body is not UTF-8: {error}") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def get(value: Any, *path: str | int) -> Any:
    """
    Follow keys and list indexes into decoded JSON.

    :param value: an object, list or scalar.
    :param path: the keys (for objects) and indexes (for lists) to follow.
    :returns: what is there, or ``None`` where the path does not lead.
    """
    for step in path:
        if isinstance(step, str) and isinstance(value, dict):
            value = value.get(step)
        elif isinstance(step, int) and isinstance(value, list):
            value = value[step] if -len(value) <= step < len(value) else None
        else:
            return None
    return value


def obj(value: Any, *path: str | int) -> dict[str, Any] | None:
    """
    The JSON object at ``path``, or ``None``.

    :param value: decoded JSON.
    :param path: as for `get`.
    """
    found = get(value, *path)
    return found if isinstance(found, dict) else None


def text(value: Any, *path: str | int) -> str | None:
    """
    The non-empty string at ``path``, or ``None``.

    :param value: decoded JSON.
    :param path: as for `get`.
    """
    found = get(value, *path)
    return found if isinstance(found, str) and found else None


def ident(value: Any, *path: str | int) -> str | None:
    """
    The identifier at ``path``, a string or an integer, as a string.

    :param value: decoded JSON.
    :param path: as for `get`.
    """
    found = get(value, *path)
    if isinstance(found, int) and not isinstance(found, bool):
        return str(found)
    return found if isinstance(found, str) and found else None


def integer(value: Any, *path: str | int) -> int | None:
    """
    The integer at ``path``, or ``None``.

    :param value: decoded JSON.
    :param path: as for `get`.
    """
    found = get(value, *path)
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def items(value: Any, *path: str | int) -> list[Any]:
    """
    The list at ``path``, or an empty list.

    :param value: decoded JSON.
    :param path: as for `get`.
    """
    found = get(value, *path)
    return found if isinstance(found, list) else []


def names(value: Any, *path: str | int) -> tuple[str, ...]:
    """
    The ``name`` of every object in the list at ``path``.

    :param value: decoded JSON.
    :param path: as for `get`.
    """
    return tuple(name for item in items(value, *path) if (name := text(item, "name")))


def epoch(value: Any) -> float | None:
    """
    Read seconds since the epoch from a number or a string of digits.

    :param value: a header value or a decoded JSON value.
    :returns: the seconds, or ``None`` if ``value`` is not such a time.
    """
    if isinstance(value, str):
        return float(value) if _EPOCH_RE.fullmatch(value) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def iso(seconds: float | None) -> str | None:
    """
    Write a time as ISO 8601 in UTC, to the millisecond.

    :param seconds: seconds since the epoch.
    :returns: the text, or ``None`` for ``None`` or a time out of range.
    """
    if seconds is None:
        return None
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def compact(**values: Any) -> dict[str, Any]:
    """
    The keyword arguments whose value is not ``None``: the extras of a
    context.
    """
    return {key: value for key, value in values.items() if value is not None}
