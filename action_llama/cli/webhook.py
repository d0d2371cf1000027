"""
``al webhook replay``: show, offline, which agents a delivery would run and
why; with ``--run``, run the first of them once in the foreground.

A fixture is a JSON file ``{"headers": {...}, "body": ...}``: the body is
either any JSON value (sent as its JSON text) or a string (sent as it is,
such as a form-encoded Slack command). Signatures are not checked: the
point is what the filters make of the payload.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs
import click

from ..config import AgentConfig, ProjectConfig, WebhookSource, WebhookTrigger
from ..scheduler import Trigger
from ..webhooks import PROVIDERS, ParseError, WebhookContext, match_agents, matches
from ._common import CLIError, load_or_exit, project_option, project_root, run_async
from ._display import record_printer
from .run import run_agent_once

#: Headers that only each provider sends (lower-case), by provider; a
#: fixture carrying one of them came from that provider.
_SIGNS: Mapping[str, tuple[str, ...]] = {
    "github": ("x-github-event", "x-hub-signature-256", "x-github-delivery"),
    "sentry": ("sentry-hook-resource", "sentry-hook-signature"),
    "linear": ("linear-signature", "linear-delivery", "linear-event"),
    "mintlify": ("x-mintlify-signature",),
    "slack": ("x-slack-signature", "x-slack-request-timestamp"),
    "discord": ("x-signature-ed25519", "x-signature-timestamp"),
    "twitter": ("x-twitter-webhooks-signature",),
}

#: The context fields shown for a parsed delivery, in order.
_SHOWN = (
    "repo",
    "org",
    "number",
    "title",
    "author",
    "assignee",
    "labels",
    "branch",
    "conclusion",
    "sender",
    "url",
)


@attrs.frozen
class Fixture:
    """
    A delivery read from a fixture file.

    :ivar headers: the headers, names lower-cased.
    :ivar body: the raw body.
    """

    headers: dict[str, str]
    body: bytes

    @classmethod
    def read(cls, path: Path) -> Fixture:
        """
        Read ``path``.

        :raises CLIError: if it is not a fixture.
        """
        try:
            value = json.loads(path.read_bytes())
        except (OSError, ValueError) as e:
            raise CLIError(f"cannot read {path} as JSON: {e}") from None
        if not isinstance(value, dict) or "body" not in value:
            raise CLIError(f'{path} is not {{"headers": {{...}}, "body": ...}}')
        headers = value.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(v, str) for v in headers.values()
        ):
            raise CLIError(f'"headers" in {path} must map names to strings')
        body = value["body"]
        raw = body if isinstance(body, str) else json.dumps(body)
        return cls({k.lower(): v for k, v in headers.items()}, raw.encode("utf-8"))


@click.group()
def webhook() -> None:
    """
    Work with webhook deliveries offline.
    """


@webhook.command()
@project_option
@click.argument("fixture", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-s",
    "--source",
    help="The [webhooks.<source>] the delivery comes through (default: the "
    "first source whose provider sends the fixture's headers).",
)
@click.option(
    "--run",
    "run_agent",
    is_flag=True,
    help="Then run the first agent it matches once, as `al run` does.",
)
@click.pass_context
def replay(
    ctx: click.Context, fixture: Path, source: str | None, run_agent: bool
) -> None:
    """
    Show which agents the delivery in FIXTURE would run, and why.

    FIXTURE is a JSON file {"headers": {...}, "body": ...}; the body is a
    JSON value, or a string sent as it is.
    """
    project = load_or_exit(project_root(ctx))
    delivery = Fixture.read(fixture)
    chosen, why = _source(project, delivery, source)
    provider = PROVIDERS[chosen.type]
    click.echo(f"Source: {chosen.name} ({chosen.type}), {why}")
    handshake = provider.handshake("POST", delivery.headers, delivery.body, {}, None)
    if handshake is not None:
        click.echo(
            f"This is a {chosen.type} handshake: the gateway answers it itself "
            "and runs no agent."
        )
        return
    try:
        context = provider.parse(delivery.headers, delivery.body)
    except ParseError as e:
        raise CLIError(
            f"{fixture} cannot be read as a {chosen.type} delivery: {e}"
        ) from None
    context = attrs.evolve(context, source=chosen.name)
    for line in _describe(context):
        click.echo(line)
    matched = match_agents(project.agents, chosen.name, context)
    click.echo(
        "Would run: " + (", ".join(matched) or "no agent (a no_match dead letter)")
    )
    for line in _reasons(project.agents, chosen.name, context):
        click.echo(line)
    if run_agent:
        agent = _runnable(project, matched)
        trigger = Trigger("webhook", source=chosen.name, context=context.to_json())
        show = record_printer(raw=False, colour=sys.stdout.isatty())
        run_async(
            lambda reactor: run_agent_once(reactor, project, agent, show, trigger)
        )


def _source(
    project: ProjectConfig, delivery: Fixture, name: str | None
) -> tuple[WebhookSource, str]:
    """
    The source the delivery comes through, and how it was chosen.

    :raises CLIError: if ``name`` is not a source of the project, or no
        source can be told from the headers.
    """
    sources = project.webhooks
    known = ", ".join(sources) or "none"
    if name is not None:
        if name not in sources:
            raise CLIError(f"there is no webhook source {name!r} (sources: {known})")
        return sources[name], "given with --source"
    for source in sources.values():
        for header in _SIGNS[source.type]:
            if header in delivery.headers:
                return source, f"chosen by the fixture's {header} header"
    if len(sources) == 1:
        [only] = sources.values()
        return only, "the project's only source"
    raise CLIError(
        "cannot tell which source the delivery comes through from its headers; "
        f"pass --source (sources: {known})"
    )


def _describe(context: WebhookContext) -> list[str]:
    """
    The lines that say what a parsed delivery is about.
    """
    shape = context.to_json()
    first = f"Event: {context.event}"
    if context.action:
        first += f", action {context.action}"
    fields = []
    for name in _SHOWN:
        value = shape[name]
        if value in (None, []):
            continue
        if isinstance(value, list):
            value = ", ".join(value)
        text = str(value)
        fields.append(f"  {name}: {text if len(text) <= 72 else text[:69] + '...'}")
    extras = {k: v for k, v in shape["extras"].items() if isinstance(v, str | int)}
    if extras:
        fields.append(
            "  extras: " + ", ".join(f"{k}={v}" for k, v in sorted(extras.items()))
        )
    return [first, *fields]


def _reasons(
    agents: tuple[AgentConfig, ...], source: str, context: WebhookContext
) -> list[str]:
    """
    For each agent with a trigger on ``source``, whether each of its
    triggers matches and, filter by filter, why.
    """
    lines: list[str] = []
    deaf: list[str] = []
    width = max((len(agent.name) for agent in agents), default=0)
    for agent in agents:
        triggers = [t for t in agent.webhooks if t.source == source]
        if not triggers:
            deaf.append(agent.name)
            continue
        verdicts = [_verdict(trigger, context) for trigger in triggers]
        hit = any(matches(trigger, context) for trigger in triggers)
        status = "matches " if hit else "no match"
        note = "  (disabled: scale = 0)" if hit and agent.scale == 0 else ""
        for n, verdict in enumerate(verdicts, 1):
            head = (
                f"  {agent.name:<{width}}  {status}" if n == 1 else " " * (width + 12)
            )
            lines.append(
                f"{head}  [[webhooks]] #{n}: {verdict}{note if n == 1 else ''}"
            )
    if deaf:
        lines.append(f"Not triggered by {source}: {', '.join(deaf)}")
    return lines


def _verdict(trigger: WebhookTrigger, context: WebhookContext) -> str:
    """
    Each filter of ``trigger`` with whether ``context`` satisfies it.
    """
    if not trigger.filters:
        return "no filters: every delivery"
    parts = []
    for key, wanted in trigger.filters.items():
        alone = WebhookTrigger(trigger.source, {key: wanted})
        mark = "yes" if matches(alone, context) else "NO"
        parts.append(f"{key}={','.join(wanted)} {mark}")
    return ", ".join(parts)


def _runnable(project: ProjectConfig, matched: list[str]) -> str:
    """
    The first matched agent that can run.

    :raises CLIError: if there is none.
    """
    scales = {agent.name: agent.scale for agent in project.agents}
    for name in matched:
        if scales[name] > 0:
            click.echo(
                f"Running {name} once with this delivery, as `al run {name}` does."
            )
            return name
    raise CLIError("no agent that can run matches the delivery; nothing to run")
