"""
Which credentials a project needs, and which of them the store lacks.

``al doctor`` reports these; ``al start`` logs them as warnings, since a
missing key only stops the agents that need it.
"""

from __future__ import annotations

from attrs import frozen

from .config import ProjectConfig
from .credentials import (
    PROVIDER_KEY_TYPES,
    WEBHOOK_SECRET_TYPES,
    CredentialStore,
    parse_ref,
)


@frozen
class CredentialNeed:
    """
    One credential the project refers to, and who needs it.

    :ivar ref: ``type`` or ``type:instance``.
    :ivar needed_by: what needs it, for a person (``agent dev``,
        ``webhook source acme-github``, ``model sonnet``).
    """

    ref: str
    needed_by: tuple[str, ...]


def credential_needs(project: ProjectConfig) -> list[CredentialNeed]:
    """
    Every credential the project's agents, models and webhook sources name.
    """
    needs: dict[str, list[str]] = {}

    def need(ref: str, who: str) -> None:
        kind, instance = parse_ref(ref)
        canonical = kind if instance == "default" else f"{kind}:{instance}"
        needs.setdefault(canonical, []).append(who)

    for agent in project.agents:
        for ref in agent.credentials:
            need(ref, f"agent {agent.name}")
        for model_name in agent.models:
            model = project.models[model_name]
            key_type = PROVIDER_KEY_TYPES.get(model.provider)
            if key_type and model.auth_type == "api_key":
                need(key_type, f"agent {agent.name} (model {model_name})")
    for source in project.webhooks.values():
        if source.credential:
            need(
                f"{WEBHOOK_SECRET_TYPES[source.type]}:{source.credential}",
                f"webhook source {source.name}",
            )
    return [CredentialNeed(ref, tuple(who)) for ref, who in sorted(needs.items())]


def missing_credentials(
    project: ProjectConfig, store: CredentialStore
) -> list[CredentialNeed]:
    """
    The needed credentials that are not in ``store``.
    """
    return [need for need in credential_needs(project) if not store.has(need.ref)]
