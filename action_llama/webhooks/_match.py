"""
Matching parsed deliveries against agents' ``[[webhooks]]`` filters.

Every filter key a trigger gives must match (AND across keys); a key
matches when any of its values equals any of the context's values for it
(OR within a key).  Comparisons ignore case, and a command matches with or
without its leading ``/``.  A key whose list is empty constrains nothing.  A
context with no value for a given key does not match it: a trigger on
``branches`` never fires for a delivery without a branch.  A key this module
does not know never matches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from action_llama.config import AgentConfig, WebhookTrigger

from ._model import WebhookContext

_Values = Callable[[WebhookContext], tuple[str, ...]]


def _one(value: object) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) and value else ()


def _attribute(name: str) -> _Values:
    return lambda context: _one(getattr(context, name))


def _extras(*keys: str) -> _Values:
    return lambda context: tuple(
        value for key in keys for value in _one(context.extras.get(key))
    )


def _org(context: WebhookContext) -> tuple[str, ...]:
    return _one(context.org) + _one(context.extras.get("organizationId"))


_VALUES: Mapping[str, _Values] = {
    "repos": _attribute("repo"),
    "orgs": _org,
    "org": _org,
    "organizations": _org,
    "events": _attribute("event"),
    "actions": _attribute("action"),
    "labels": lambda context: context.labels,
    "assignee": _attribute("assignee"),
    "author": _attribute("author"),
    "branches": _attribute("branch"),
    "conclusions": _attribute("conclusion"),
    "resources": _extras("resource"),
    "projects": _extras("project"),
    "guilds": _extras("guild"),
    "channels": _extras("channel", "channelName"),
    "commands": _extras("command"),
}
"""
For each filter key, the values of a context it is compared with.
"""


def _normal(key: str, value: str) -> str:
    folded = value.casefold()
    return folded.removeprefix("/") if key == "commands" else folded


def matches(trigger: WebhookTrigger, context: WebhookContext) -> bool:
    """
    Whether a delivery satisfies every filter of a trigger.

    The trigger's ``source`` is not compared; see `match_agents`.

    :param trigger: one ``[[webhooks]]`` entry of an agent.
    :param context: the parsed delivery.
    """
    for key, wanted in trigger.filters.items():
        values = _VALUES.get(key)
        if values is None:
            return False
        if not wanted:
            continue
        have = {_normal(key, value) for value in values(context)}
        if have.isdisjoint(_normal(key, value) for value in wanted):
            return False
    return True


def match_agents(
    agents: Iterable[AgentConfig], source_name: str, context: WebhookContext
) -> list[str]:
    """
    The agents that a delivery through one source should run.

    Whether an agent is enabled is the caller's concern: disabled agents
    are matched too.

    :param agents: the agents, in the order to report them.
    :param source_name: the ``[webhooks.<source>]`` the delivery came
        through.
    :param context: the parsed delivery.
    :returns: the names of the agents with a trigger on that source whose
        filters all match, in the order of ``agents``.
    """
    return [
        agent.name
        for agent in agents
        if any(
            trigger.source == source_name and matches(trigger, context)
            for trigger in agent.webhooks
        )
    ]
