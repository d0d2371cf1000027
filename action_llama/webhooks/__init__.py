"""
Webhooks, without the HTTP: for each provider, how its deliveries are
signed, answered, identified and read, and how a parsed delivery is matched
against agents' ``[[webhooks]]`` triggers.

Each provider module (`github`, `sentry`, `linear`, `mintlify`, `slack`,
`discord`, `twitter`) exposes one `Provider` as ``PROVIDER``; `PROVIDERS`
maps each ``[webhooks.<source>].type`` to it.  Nothing here does I/O, reads
the clock or imports a framework, so the gateway drives it from Twisted and
``al webhook replay`` from the command line.  The caller's order of work:

1. answer a ``handshake`` if there is one: an X CRC ``GET`` needs nothing
   else, and a ``POST`` handshake (Slack, Discord) is answered only if its
   signature checks out, when the source has a secret;
2. ``verify`` the raw body with the source's credential fields (``None`` for
   a source without a credential, which gives an ``"unsigned"`` verdict the
   caller may accept);
3. dedupe by ``delivery_id`` among verified receipts;
4. ``parse`` into a `WebhookContext`, set ``source`` and ``receipt_id``
   with ``attrs.evolve``, and `match_agents`; a Discord interaction is
   answered with `discord_deferred_response`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from . import discord, github, linear, mintlify, sentry, slack, twitter
from ._match import match_agents, matches
from ._model import (
    HandshakeAnswer,
    Headers,
    ParseError,
    Provider,
    Verdict,
    WebhookContext,
)
from .discord import discord_deferred_response

PROVIDERS: Mapping[str, Provider] = MappingProxyType(
    {
        provider.name: provider
        for provider in (
            github.PROVIDER,
            sentry.PROVIDER,
            linear.PROVIDER,
            mintlify.PROVIDER,
            slack.PROVIDER,
            discord.PROVIDER,
            twitter.PROVIDER,
        )
    }
)
"""
Every provider, by its ``[webhooks.<source>].type``.
"""

__all__ = [
    "PROVIDERS",
    "HandshakeAnswer",
    "Headers",
    "ParseError",
    "Provider",
    "Verdict",
    "WebhookContext",
    "discord_deferred_response",
    "match_agents",
    "matches",
]
