"""
The loaded configuration of a project: immutable attrs classes.

Attribute names are snake_case; the TOML keys they come from keep the
original tool's camelCase names (``maxReruns`` becomes ``max_reruns``).
Mappings are read-only views.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from attrs import field, frozen

from ._issues import ConfigIssue

#: A valid agent name, which is also the name of its directory.
AGENT_NAME_RE = re.compile(r"\A[a-z0-9][a-z0-9_-]*\Z")

#: The values of ``[models.<name>].provider``.
PROVIDERS = frozenset(
    {"anthropic", "openai", "groq", "openrouter", "xai", "mistral", "google", "custom"}
)

#: The values of ``[models.<name>].authType``.
AUTH_TYPES = frozenset({"api_key", "oauth_token", "pi_auth"})

#: The values of ``[models.<name>].thinkingLevel``.
THINKING_LEVELS = frozenset({"off", "minimal", "low", "medium", "high", "xhigh"})

#: The values of ``[webhooks.<source>].type``.
WEBHOOK_TYPES = frozenset(
    {"github", "sentry", "linear", "mintlify", "slack", "discord", "twitter"}
)

#: The filter keys of an agent's ``[[webhooks]]`` trigger.
WEBHOOK_FILTER_KEYS = frozenset(
    {
        "repos",
        "orgs",
        "org",
        "events",
        "actions",
        "labels",
        "assignee",
        "author",
        "branches",
        "conclusions",
        "resources",
        "organizations",
        "projects",
        "guilds",
        "channels",
        "commands",
    }
)

#: The values of an agent's ``[runtime].type``.
RUNTIME_TYPES = frozenset({"local", "host-user"})


def _read_only(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@frozen
class ModelConfig:
    """
    One ``[models.<name>]`` table: an LLM that agents name in ``models``.

    :ivar name: the ``<name>`` of the table.
    :ivar provider: one of `PROVIDERS`.
    :ivar model: the provider's model id.
    :ivar auth_type: from ``authType``; one of `AUTH_TYPES`.
    :ivar thinking_level: from ``thinkingLevel``; one of `THINKING_LEVELS`.
    :ivar base_url: from ``baseUrl``: the API root of an OpenAI-compatible
        server.
    """

    name: str
    provider: str
    model: str
    auth_type: str = "api_key"
    thinking_level: str | None = None
    base_url: str | None = None


@frozen
class WebhookSource:
    """
    One ``[webhooks.<source>]`` table: where webhooks come from and how they
    are verified.

    :ivar name: the ``<source>`` of the table.
    :ivar type: the provider; one of `WEBHOOK_TYPES`.
    :ivar credential: the instance of the provider's secret credential;
        ``None`` accepts unsigned requests.
    """

    name: str
    type: str
    credential: str | None = None


@frozen
class WebhookTrigger:
    """
    One ``[[webhooks]]`` entry of an agent: which webhooks run it.

    :ivar source: the name of a project ``[webhooks.<source>]``.
    :ivar filters: every other key of the entry (one of
        `WEBHOOK_FILTER_KEYS`); a single string becomes a 1-tuple.
    """

    source: str
    filters: Mapping[str, tuple[str, ...]] = field(
        factory=dict, converter=_read_only, hash=False
    )


@frozen
class Hooks:
    """
    An agent's ``[hooks]``: shell commands run around the session, in order.

    :ivar pre: commands run before; the first failure aborts the run.
    :ivar post: commands run after.
    """

    pre: tuple[str, ...] = ()
    post: tuple[str, ...] = ()


@frozen
class RuntimeConfig:
    """
    An agent's ``[runtime]``: how its runs are started.

    :ivar type: ``"local"`` (a child process) or ``"host-user"`` (a child
        process as another OS user, through sudo).
    :ivar run_as: the OS user, for ``"host-user"``.
    """

    type: Literal["local", "host-user"] = "local"
    run_as: str | None = None


@frozen
class LocalConfig:
    """
    The project ``[local]`` table: defaults for runs on this machine.

    :ivar timeout: the run timeout in seconds for agents that set none.
    :ivar image: the container image, for container runtimes.
    :ivar memory: the container memory limit, such as ``"4g"``.
    :ivar cpus: the container CPU limit.
    """

    timeout: int | None = None
    image: str | None = None
    memory: str | None = None
    cpus: float | None = None


@frozen
class GatewayConfig:
    """
    The project ``[gateway]`` table.

    :ivar port: the TCP port the gateway listens on.
    """

    port: int = 8080


@frozen
class TelemetryConfig:
    """
    The project ``[telemetry]`` table; accepted, and honoured once telemetry
    export exists.

    :ivar enabled: whether to export.
    :ivar provider: the exporter.
    :ivar endpoint: the collector URL.
    :ivar service_name: from ``serviceName``.
    :ivar headers: extra headers sent to the collector.
    :ivar sampling_rate: from ``samplingRate``: the share of traces kept,
        from 0 to 1.
    """

    enabled: bool = False
    provider: str = "none"
    endpoint: str | None = None
    service_name: str = "action-llama"
    headers: Mapping[str, str] = field(factory=dict, converter=_read_only, hash=False)
    sampling_rate: float = 1.0


@frozen
class AgentConfig:
    """
    One agent: ``agents/<name>/SKILL.md`` and ``agents/<name>/config.toml``.

    :ivar name: the directory name.
    :ivar directory: the agent's directory.
    :ivar description: from the SKILL.md frontmatter.
    :ivar license: from the SKILL.md frontmatter.
    :ivar compatibility: from the SKILL.md frontmatter.
    :ivar instructions: the SKILL.md markdown body: the agent's system prompt.
    :ivar source: where the original tool installed the skill from.
    :ivar models: names of project models, in fallback order.
    :ivar credentials: credential references, ``type`` or ``type:instance``.
    :ivar schedule: a cron expression.
    :ivar timezone: the IANA timezone the schedule is read in.
    :ivar scale: how many runs may go at once; 0 disables the agent.
    :ivar timeout: the run timeout in seconds: the agent's own, else the
        project ``[local].timeout``, else 900.
    :ivar max_work_queue_size: the agent's ``maxWorkQueueSize``, else the
        project ``workQueueSize``.
    :ivar webhooks: the webhook triggers.
    :ivar hooks: shell commands run around the session.
    :ivar params: the free ``[params]`` table given to the prompt.
    :ivar runtime: how runs are started.
    """

    name: str
    directory: Path
    description: str = ""
    license: str | None = None
    compatibility: str | None = None
    instructions: str = ""
    source: str | None = None
    models: tuple[str, ...] = ()
    credentials: tuple[str, ...] = ()
    schedule: str | None = None
    timezone: str = "UTC"
    scale: int = 1
    timeout: int = 900
    max_work_queue_size: int = 100
    webhooks: tuple[WebhookTrigger, ...] = ()
    hooks: Hooks = Hooks()
    params: Mapping[str, Any] = field(factory=dict, converter=_read_only, hash=False)
    runtime: RuntimeConfig = RuntimeConfig()

    @property
    def is_script(self) -> bool:
        """
        Whether this is a script agent: no models, so a run is its hooks only.
        """
        return not self.models

    @property
    def enabled_by_config(self) -> bool:
        """
        Whether the config lets the agent run at all (``scale`` above 0).
        """
        return self.scale > 0


@frozen
class ProjectConfig:
    """
    A whole project: the top-level ``config.toml`` and every agent.

    :ivar root: the project directory, absolute.
    :ivar max_reruns: from ``maxReruns``: reruns allowed in a row.
    :ivar max_call_depth: from ``maxCallDepth``: the longest chain of agent
        calls.
    :ivar work_queue_size: from ``workQueueSize``: the default bound of each
        agent's work queue.
    :ivar scale: the cap on runs at once across all agents; ``None`` for no
        cap.
    :ivar resource_lock_timeout: from ``resourceLockTimeout``: lock TTL in
        seconds.
    :ivar history_retention_days: from ``historyRetentionDays``.
    :ivar models: the ``[models.<name>]`` tables, by name.
    :ivar local: the ``[local]`` table.
    :ivar gateway: the ``[gateway]`` table.
    :ivar webhooks: the ``[webhooks.<source>]`` tables, by name.
    :ivar telemetry: the ``[telemetry]`` table.
    :ivar agents: every agent, sorted by name.
    :ivar warnings: problems that did not stop the load, such as unknown
        fields.
    """

    root: Path
    max_reruns: int = 10
    max_call_depth: int = 3
    work_queue_size: int = 100
    scale: int | None = None
    resource_lock_timeout: int = 1800
    history_retention_days: int = 14
    models: Mapping[str, ModelConfig] = field(
        factory=dict, converter=_read_only, hash=False
    )
    local: LocalConfig = LocalConfig()
    gateway: GatewayConfig = GatewayConfig()
    webhooks: Mapping[str, WebhookSource] = field(
        factory=dict, converter=_read_only, hash=False
    )
    telemetry: TelemetryConfig = TelemetryConfig()
    agents: tuple[AgentConfig, ...] = ()
    warnings: tuple[ConfigIssue, ...] = ()

    @property
    def state_dir(self) -> Path:
        """
        The directory of runtime state: database and logs.
        """
        return self.root / ".al"

    def agent(self, name: str) -> AgentConfig:
        """
        Find an agent by name.

        :param name: the agent's name.
        :raises KeyError: if the project has no such agent.
        """
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(name)
