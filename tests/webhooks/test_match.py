"""
Tests for matching contexts against ``[[webhooks]]`` filters and agents.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from action_llama.config import (
    WEBHOOK_FILTER_KEYS,
    AgentConfig,
    WebhookTrigger,
    load_project,
)
from action_llama.webhooks import PROVIDERS, WebhookContext, match_agents, matches
from tests.helpers import FIXTURE

from .support import fixture, trigger

FULL = WebhookContext(
    provider="github",
    event="pull_request",
    action="opened",
    repo="acme/app",
    org="acme",
    labels=("bug", "agent"),
    assignee="ada",
    author="grace",
    branch="main",
    conclusion="failure",
    extras={
        "resource": "error",
        "project": "web-app",
        "guild": "290926798626357999",
        "channel": "C1",
        "channelName": "triage",
        "command": "/deploy",
        "organizationId": "org-1",
    },
)
"""
A context with a value for every filter key.
"""

KEY_CASES: dict[str, tuple[str, str]] = {
    "repos": ("ACME/App", "acme/api"),
    "orgs": ("acme", "globex"),
    "org": ("org-1", "org-2"),
    "organizations": ("Acme", "globex"),
    "events": ("PULL_REQUEST", "issues"),
    "actions": ("opened", "closed"),
    "labels": ("Agent", "feature"),
    "assignee": ("ada", "grace"),
    "author": ("Grace", "ada"),
    "branches": ("main", "master"),
    "conclusions": ("failure", "success"),
    "resources": ("error", "issue"),
    "projects": ("web-app", "api"),
    "guilds": ("290926798626357999", "1"),
    "channels": ("triage", "general"),
    "commands": ("deploy", "/rollback"),
}
"""
For each filter key, a value that matches `FULL` and one that does not.
"""


def test_every_filter_key_is_exercised() -> None:
    """
    The cases below cover every key the config accepts.
    """
    assert set(KEY_CASES) == WEBHOOK_FILTER_KEYS


@pytest.mark.parametrize("key", sorted(KEY_CASES))
def test_key_matches_its_value_only(key: str) -> None:
    """
    Each filter key matches the context's value, ignoring case, and not
    another value.
    """
    good, bad = KEY_CASES[key]
    assert matches(trigger(**{key: good}), FULL)
    assert not matches(trigger(**{key: bad}), FULL)


@pytest.mark.parametrize("key", sorted(set(KEY_CASES) - {"events"}))
def test_key_without_a_context_value_never_matches(key: str) -> None:
    """
    A filter on a value the delivery does not have does not match.
    """
    bare = WebhookContext(provider="github", event="ping")
    good, _ = KEY_CASES[key]
    assert not matches(trigger(**{key: good}), bare)


def test_no_filters_match_everything() -> None:
    """
    A trigger with only a source matches any delivery.
    """
    assert matches(trigger(), WebhookContext(provider="slack", event="message"))


def test_values_of_one_key_are_alternatives() -> None:
    """
    Within one key, any listed value matching is enough.
    """
    assert matches(trigger(actions=("closed", "opened", "reopened")), FULL)


def test_keys_must_all_match() -> None:
    """
    Across keys, every key must match.
    """
    assert matches(trigger(events="pull_request", branches="main"), FULL)
    assert not matches(trigger(events="pull_request", branches="dev"), FULL)


def test_empty_list_constrains_nothing() -> None:
    """
    A key given an empty list is ignored.
    """
    assert matches(trigger(labels=(), events="pull_request"), FULL)


def test_unknown_key_never_matches() -> None:
    """
    A filter key matching does not know fails closed.
    """
    assert not matches(WebhookTrigger("src", {"colour": ("blue",)}), FULL)


def test_provider_filter_fields_are_config_keys() -> None:
    """
    Every filter field a provider declares is a key the config accepts.
    """
    for provider in PROVIDERS.values():
        assert provider.filter_fields <= WEBHOOK_FILTER_KEYS, provider.name


def _agent(name: str, *triggers: WebhookTrigger) -> AgentConfig:
    return AgentConfig(name=name, directory=Path(name), webhooks=triggers)


def test_match_agents_keeps_agent_order_and_source() -> None:
    """
    Agents with any matching trigger on the delivery's source are named, in
    agent order; triggers on other sources are ignored.
    """
    agents = [
        _agent("zeta", trigger("gh", events="pull_request")),
        _agent("alpha", trigger("other", events="pull_request")),
        _agent("mid", trigger("gh", events="issues"), trigger("gh", branches="main")),
        _agent("none"),
        _agent("miss", trigger("gh", events="push")),
    ]
    assert match_agents(agents, "gh", FULL) == ["zeta", "mid"]
    assert match_agents(agents, "other", FULL) == ["alpha"]
    assert match_agents(agents, "unknown", FULL) == []


def _github(name: str, **changes: object) -> WebhookContext:
    payload = json.loads(fixture(f"github/{name}"))
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = payload
        for parent in parents:
            target = target[parent]
        target[last] = value
    headers = {"x-github-event": name.split(".")[0]}
    return PROVIDERS["github"].parse(headers, json.dumps(payload).encode())


def test_existing_project_agents_match_real_payloads() -> None:
    """
    The triggers of the original tool's example project pick the expected
    agents for real GitHub and Sentry payloads.
    """
    agents = load_project(FIXTURE).agents
    pull = _github(
        "pull_request.opened.json",
        pull_request__base__ref="main",
        repository__full_name="acme/app",
    )
    dependabot = _github(
        "pull_request.opened.json", pull_request__user__login="dependabot[bot]"
    )
    issue = _github(
        "issues.labeled.org.json",
        repository__full_name="acme/api",
        issue__labels=[{"name": "agent"}],
    )
    error = PROVIDERS["sentry"].parse(
        {"sentry-hook-resource": "error"}, fixture("sentry/error.created.json")
    )
    assert match_agents(agents, "acme-github", pull) == ["reviewer"]
    assert (
        match_agents(agents, "acme-github", _github("pull_request.opened.json")) == []
    )
    assert match_agents(agents, "public-github", dependabot) == ["reviewer"]
    assert match_agents(agents, "public-github", pull) == []
    assert match_agents(agents, "acme-github", issue) == ["dev"]
    assert match_agents(agents, "acme-sentry", error) == ["sentry-fixer"]
