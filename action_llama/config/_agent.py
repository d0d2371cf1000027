"""
Reading one agent: ``agents/<name>/SKILL.md`` and ``agents/<name>/config.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from action_llama.cron import CronError, CronSchedule

from ._files import read_skill, read_toml
from ._issues import IssueLog
from ._model import (
    AGENT_NAME_RE,
    RUNTIME_TYPES,
    WEBHOOK_FILTER_KEYS,
    AgentConfig,
    Hooks,
    ProjectConfig,
    RuntimeConfig,
    WebhookTrigger,
)
from ._project import INSTANCE_RE
from ._table import Table

_CREDENTIAL_RE = re.compile(rf"[a-z0-9][a-z0-9_-]*(?::{INSTANCE_RE.pattern})?")
_RUN_AS_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_DEFAULT_TIMEOUT = 900


def read_agent(
    log: IssueLog, project: ProjectConfig, directory: Path, check_references: bool
) -> AgentConfig | None:
    """
    Read and check one agent's files.

    Every problem is reported, even when the agent cannot be built.

    :param log: where problems go.
    :param project: the project, without agents, for defaults and references.
    :param directory: the agent's directory, holding a SKILL.md.
    :param check_references: check the names of models and webhook sources
        against the project; off when the project config did not parse.
    :returns: the agent, or ``None`` when its name or a file is unusable.
    """
    name = directory.name
    if not AGENT_NAME_RE.match(name):
        expected = (
            "lowercase letters, digits, '-' and '_', starting with a letter or "
            "digit; rename the directory"
        )
        message = f"{name!r} is not a valid agent name (expected {expected})"
        log.error(directory, "(agent name)", message)
    skill = read_skill(log, directory / "SKILL.md")
    frontmatter = skill.frontmatter if skill else {}
    description, skill_license, compatibility = _read_frontmatter(
        Table(log, directory / "SKILL.md", frontmatter, "frontmatter"), name
    )
    data = read_toml(log, directory / "config.toml")
    if data is None:
        return None
    table = Table(log, directory / "config.toml", data)
    schedule, timezone = _read_schedule(table, name)
    scale = table.integer("scale", None, minimum=0)
    agent = AgentConfig(
        name=name,
        directory=directory,
        description=description,
        license=skill_license,
        compatibility=compatibility,
        instructions=skill.body if skill else "",
        source=table.string("source", None),
        models=table.strings(
            "models",
            _check_reference(
                check_references, project.models, "model", "[models.<name>]"
            ),
        ),
        credentials=table.strings("credentials", _check_credential),
        schedule=schedule,
        timezone=timezone,
        scale=1 if scale is None else scale,
        timeout=_read_timeout(table, project),
        max_work_queue_size=table.integer(
            "maxWorkQueueSize", project.work_queue_size, minimum=0
        ),
        webhooks=_read_webhooks(table, project, check_references),
        hooks=_read_hooks(table.table("hooks")),
        params=table.mapping("params"),
        runtime=_read_runtime(table.table("runtime")),
    )
    scale_valid = scale is not None or not table.has("scale")
    if agent.enabled_by_config and scale_valid:
        _check_triggered(table)
    table.finish()
    if skill is None or not AGENT_NAME_RE.match(name):
        return None
    return agent


def _read_frontmatter(table: Table, name: str) -> tuple[str, str | None, str | None]:
    """
    Read the SKILL.md frontmatter fields kept on the agent.

    :returns: the description, the license and the compatibility.
    """
    description = table.string("description", "")
    skill_license = table.string("license", None)
    compatibility = table.string("compatibility", None)
    declared = table.string("name", None)
    if declared is not None and declared != name:
        message = (
            f"{declared!r} differs from the directory name, which is the "
            f"agent's name (expected {name!r})"
        )
        table.warn("name", message)
    table.finish()
    return description, skill_license, compatibility


def _read_timeout(table: Table, project: ProjectConfig) -> int:
    """
    The agent's timeout, else the project ``[local].timeout``, else 900.
    """
    timeout = table.integer("timeout", None, minimum=1)
    if timeout is not None:
        return timeout
    if project.local.timeout is not None:
        return project.local.timeout
    return _DEFAULT_TIMEOUT


def _check_reference(
    check: bool, defined: Collection[str], kind: str, header: str
) -> Callable[[str], str | None] | None:
    """
    Make a check that a name refers to a table of the project config, such
    as ``[models.<name>]``.
    """
    if not check:
        return None
    if defined:
        known = (
            f"one of the {header} tables of config.toml: {', '.join(sorted(defined))}"
        )
    else:
        known = f"the name of a {header} table of config.toml, and there is none"

    def check_name(name: str) -> str | None:
        if name in defined:
            return None
        return f"unknown {kind} {name!r} (expected {known})"

    return check_name


def _check_credential(ref: str) -> str | None:
    if _CREDENTIAL_RE.fullmatch(ref):
        return None
    expected = (
        "'type' or 'type:instance', such as 'github_token' or "
        "'github_token:AcmeOrg'; the type in lowercase letters, digits, '_' "
        "and '-', the instance in letters, digits, '_', '-' and '.'"
    )
    return f"invalid credential reference {ref!r} (expected {expected})"


def _read_schedule(table: Table, name: str) -> tuple[str | None, str]:
    """
    Read ``schedule`` and ``timezone`` and check that they parse together.
    """
    schedule = table.string(
        "schedule", None, expected='a cron expression, such as "*/15 * * * *"'
    )
    timezone = table.string(
        "timezone", "UTC", expected='an IANA timezone name, such as "Europe/Paris"'
    )
    cron_zone = timezone
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        expected = 'an IANA timezone name, such as "Europe/Paris" or "UTC"'
        table.error("timezone", f"unknown timezone {timezone!r} (expected {expected})")
        cron_zone = "UTC"
    if schedule is not None:
        try:
            CronSchedule.parse(schedule, cron_zone, hash_key=name)
        except CronError as e:
            expected = (
                "five fields, minute hour day-of-month month day-of-week, "
                'such as "*/15 * * * *"'
            )
            table.error("schedule", f"{e} (expected {expected})")
    return schedule, timezone


def _read_webhooks(
    table: Table, project: ProjectConfig, check_references: bool
) -> tuple[WebhookTrigger, ...]:
    check_source = _check_reference(
        check_references, project.webhooks, "webhook source", "[webhooks.<name>]"
    )
    triggers = []
    for trigger in table.tables("webhooks"):
        source = trigger.string(
            "source",
            "",
            expected="the name of a [webhooks.<name>] table of config.toml",
            required=True,
        )
        problem = check_source(source) if source and check_source else None
        if problem is not None:
            trigger.error("source", problem)
        found = {}
        for key in sorted(WEBHOOK_FILTER_KEYS):
            values = trigger.string_or_strings(key)
            if values is not None:
                found[key] = values
        trigger.finish()
        filters = {key: found[key] for key in trigger.names() if key in found}
        triggers.append(WebhookTrigger(source, filters))
    return tuple(triggers)


def _read_hooks(table: Table) -> Hooks:
    hooks = Hooks(pre=table.strings("pre"), post=table.strings("post"))
    table.finish()
    return hooks


def _read_runtime(table: Table) -> RuntimeConfig:
    kind = table.string("type", "local", choices=RUNTIME_TYPES)
    run_as = table.string(
        "run_as",
        None,
        pattern=_RUN_AS_RE,
        expected='an OS user name, such as "al-agent"',
    )
    if kind == "host-user" and not table.has("run_as"):
        expected = 'the OS user to run the agent as, such as run_as = "al-agent"'
        table.error("run_as", f'missing, and type is "host-user" (expected {expected})')
    if kind == "local" and run_as is not None:
        expected = 'type = "host-user" to run as another user'
        table.warn("run_as", f'ignored, since type is "local" (expected {expected})')
    table.finish()
    return RuntimeConfig("host-user" if kind == "host-user" else "local", run_as)


def _check_triggered(table: Table) -> None:
    """
    Report an enabled agent that nothing would ever start.
    """
    if table.has("schedule") or table.raw("webhooks"):
        return
    expected = (
        "a schedule, at least one [[webhooks]] trigger, or scale = 0 to keep "
        "the agent switched off"
    )
    problem = "no schedule and no [[webhooks]], so the agent never runs"
    table.error("schedule", f"{problem} (expected {expected})")
