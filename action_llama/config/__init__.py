"""
Loading and checking a project's configuration.

`load_project` reads the top-level ``config.toml`` and every
``agents/<name>/`` (``SKILL.md`` and ``config.toml``) into immutable attrs
classes.  Every problem names its file, relative to the project root, and its
dotted field; all errors are raised together in one `ConfigError`, and
warnings (such as unknown fields) are kept in `ProjectConfig.warnings`.
"""

from ._issues import ConfigError, ConfigIssue
from ._load import load_project
from ._model import (
    AGENT_NAME_RE,
    AUTH_TYPES,
    PROVIDERS,
    RUNTIME_TYPES,
    THINKING_LEVELS,
    WEBHOOK_FILTER_KEYS,
    WEBHOOK_TYPES,
    AgentConfig,
    GatewayConfig,
    Hooks,
    LocalConfig,
    ModelConfig,
    ProjectConfig,
    RuntimeConfig,
    TelemetryConfig,
    WebhookSource,
    WebhookTrigger,
)

__all__ = [
    "AGENT_NAME_RE",
    "AUTH_TYPES",
    "PROVIDERS",
    "RUNTIME_TYPES",
    "THINKING_LEVELS",
    "WEBHOOK_FILTER_KEYS",
    "WEBHOOK_TYPES",
    "AgentConfig",
    "ConfigError",
    "ConfigIssue",
    "GatewayConfig",
    "Hooks",
    "LocalConfig",
    "ModelConfig",
    "ProjectConfig",
    "RuntimeConfig",
    "TelemetryConfig",
    "WebhookSource",
    "WebhookTrigger",
    "load_project",
]
