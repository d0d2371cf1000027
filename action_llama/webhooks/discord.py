"""
Discord interactions (the application's Interactions Endpoint URL).

Discord signs each request with Ed25519: ``X-Signature-Ed25519`` is the hex
signature of the ``X-Signature-Timestamp`` header followed by the raw body,
checked with the application's ``public_key`` (hex) from the ``discord_bot``
credential.  Discord probes the endpoint with bad signatures and expects
them refused.  A PING (interaction type 1) is answered ``{"type": 1}``.
Other interactions must be answered within three seconds, so the caller
sends `discord_deferred_response` at once and the agent follows up through
the interaction token (``interactionToken`` in the extras) later.

The delivery id is the interaction's ``id``.  The context's ``event`` names
the interaction type; the extras carry ``guild``, ``channel`` and, for
commands, ``command`` (the command name) and ``options``.
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ._model import (
    BAD_SIGNATURE,
    MISSING_SIGNATURE,
    UNSIGNED,
    VERIFIED,
    HandshakeAnswer,
    Headers,
    ParseError,
    Verdict,
    WebhookContext,
)
from ._payload import (
    compact,
    epoch,
    get,
    integer,
    iso,
    load_json,
    maybe_json,
    obj,
    secret_value,
    text,
    to_bytes,
)

_EVENTS = {
    1: "ping",
    2: "application_command",
    3: "message_component",
    4: "application_command_autocomplete",
    5: "modal_submit",
}
"""
The context's ``event`` for each interaction type.
"""

_DEFERRED = {
    "application_command": 5,
    "modal_submit": 5,
    "message_component": 6,
}
"""
The deferred response type for each event that may be deferred:
``DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE`` (5) or ``DEFERRED_UPDATE_MESSAGE``
(6).  Autocomplete cannot be deferred.
"""


class DiscordProvider:
    """
    Verify, answer and read Discord interactions.
    """

    name = "discord"
    secret_type = "discord_bot"
    filter_fields = frozenset({"events", "guilds", "channels", "commands", "author"})

    def verify(
        self,
        headers: Headers,
        body: bytes,
        secret: Mapping[str, str] | None,
        now: float,
    ) -> Verdict:
        """
        Check the Ed25519 signature with the ``public_key`` field.

        :param headers: the request headers.
        :param body: the raw request body.
        :param secret: the ``discord_bot`` fields, or ``None``.
        :param now: unused: Discord sets no window on its timestamp, and a
            replay repeats an interaction id already seen.
        """
        if secret is None:
            return UNSIGNED
        signature = headers.get("x-signature-ed25519")
        stamp = headers.get("x-signature-timestamp")
        if not signature or not stamp:
            return MISSING_SIGNATURE
        public_key = secret_value(secret, "public_key")
        if public_key is None:
            return BAD_SIGNATURE
        try:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
            key.verify(bytes.fromhex(signature), to_bytes(stamp) + body)
        except (InvalidSignature, ValueError):
            return BAD_SIGNATURE
        return VERIFIED

    def handshake(
        self,
        method: str,
        headers: Headers,
        body: bytes,
        query: Mapping[str, str],
        secret: Mapping[str, str] | None,
    ) -> HandshakeAnswer | None:
        """
        Answer a PING with a PONG.

        :param method: the HTTP method; only POST is a handshake.
        :param headers: the request headers.
        :param body: the raw request body.
        :param query: unused.
        :param secret: the ``discord_bot`` fields: when given, only a PING
            with a good signature is answered, since Discord checks that
            forged ones are refused.
        """
        if method.upper() != "POST" or integer(maybe_json(body), "type") != 1:
            return None
        if secret is not None and self.verify(headers, body, secret, 0.0) != VERIFIED:
            return None
        return HandshakeAnswer.json({"type": 1})

    def delivery_id(self, headers: Headers, body: bytes) -> str | None:
        """
        The interaction's ``id``.

        :param headers: the request headers.
        :param body: the raw request body.
        """
        return text(maybe_json(body), "id")

    def parse(self, headers: Headers, body: bytes) -> WebhookContext:
        """
        Read an interaction.

        :param headers: the request headers.
        :param body: the raw JSON body.
        :raises ParseError: if the body is not an interaction of a known
            type.
        """
        payload = load_json(body)
        event = _EVENTS.get(integer(payload, "type") or 0)
        if event is None:
            raise ParseError("the body is not an interaction of a known type")
        user = obj(payload, "member", "user") or obj(payload, "user")
        data = obj(payload, "data")
        return WebhookContext(
            provider=self.name,
            event=event,
            author=text(user, "id"),
            sender=text(user, "username"),
            timestamp=iso(epoch(headers.get("x-signature-timestamp"))),
            extras=compact(
                interactionId=text(payload, "id"),
                applicationId=text(payload, "application_id"),
                interactionToken=text(payload, "token"),
                guild=text(payload, "guild_id"),
                channel=text(payload, "channel_id") or text(payload, "channel", "id"),
                channelName=text(payload, "channel", "name"),
                command=text(data, "name"),
                customId=text(data, "custom_id"),
                options=get(data, "options"),
            ),
        )


def discord_deferred_response(context: WebhookContext) -> HandshakeAnswer | None:
    """
    The answer that defers a Discord interaction, to send within its three
    second deadline: ``{"type": 5}`` for commands and modal submissions,
    ``{"type": 6}`` for message components.

    :param context: a parsed delivery of any provider.
    :returns: the answer, or ``None`` when the delivery is not a Discord
        interaction that can be deferred.
    """
    if context.provider != DiscordProvider.name:
        return None
    deferred = _DEFERRED.get(context.event)
    return None if deferred is None else HandshakeAnswer.json({"type": deferred})


PROVIDER = DiscordProvider()
"""
The Discord provider.
"""
