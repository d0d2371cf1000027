"""
Reading the project's top-level ``config.toml``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._model import (
    AUTH_TYPES,
    PROVIDERS,
    THINKING_LEVELS,
    WEBHOOK_TYPES,
    GatewayConfig,
    LocalConfig,
    ModelConfig,
    ProjectConfig,
    TelemetryConfig,
    WebhookSource,
)
from ._table import Table

#: A credential instance name, such as ``default`` or ``AcmeOrg``.
INSTANCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

#: What `INSTANCE_RE` accepts, for messages.
INSTANCE_EXPECTED = (
    "a credential instance name: letters, digits, '_', '-' and '.', "
    "starting with a letter or digit"
)

_SOURCE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_URL_RE = re.compile(r"https?://\S+")


def read_project(root: Path, table: Table) -> ProjectConfig:
    """
    Read the top level of a project; its agents are read separately.

    :param root: the project directory.
    :param table: the parsed ``config.toml``.
    :returns: the project, with no agents and no warnings yet.
    """
    project = ProjectConfig(
        root=root,
        max_reruns=table.integer("maxReruns", 10, minimum=0),
        max_call_depth=table.integer("maxCallDepth", 3, minimum=0),
        work_queue_size=table.integer("workQueueSize", 100, minimum=0),
        scale=table.integer("scale", None, minimum=1),
        resource_lock_timeout=table.integer("resourceLockTimeout", 1800, minimum=1),
        history_retention_days=table.integer("historyRetentionDays", 14, minimum=1),
        models=_read_models(table.table("models")),
        local=_read_local(table.table("local")),
        gateway=_read_gateway(table.table("gateway")),
        webhooks=_read_webhook_sources(table.table("webhooks")),
        telemetry=_read_telemetry(table.table("telemetry")),
    )
    table.finish()
    return project


def _read_models(table: Table) -> dict[str, ModelConfig]:
    models = {}
    for name, model in table.children("model"):
        models[name] = ModelConfig(
            name=name,
            provider=model.string("provider", "", choices=PROVIDERS, required=True),
            model=model.string(
                "model", "", expected="the provider's model id", required=True
            ),
            auth_type=model.string("authType", "api_key", choices=AUTH_TYPES),
            thinking_level=model.string("thinkingLevel", None, choices=THINKING_LEVELS),
            base_url=model.string(
                "baseUrl",
                None,
                pattern=_URL_RE,
                expected="an http:// or https:// URL",
            ),
        )
        model.finish()
    return models


def _read_local(table: Table) -> LocalConfig:
    local = LocalConfig(
        timeout=table.integer("timeout", None, minimum=1),
        image=table.string("image", None, expected="a container image name"),
        memory=table.string("memory", None, expected='a memory size, such as "4g"'),
        cpus=table.number("cpus", None, valid=lambda n: n > 0, expected="a number > 0"),
    )
    table.finish()
    return local


def _read_gateway(table: Table) -> GatewayConfig:
    gateway = GatewayConfig(
        port=table.integer("port", 8080, minimum=1, maximum=65535),
    )
    table.finish()
    return gateway


def _read_webhook_sources(table: Table) -> dict[str, WebhookSource]:
    sources = {}
    for name, source in table.children("webhook source"):
        if not _SOURCE_NAME_RE.match(name):
            expected = (
                "letters, digits, '_', '-' and '.', starting with a letter or "
                "digit, since the name appears in the /webhooks/<source> URL"
            )
            table.error(name, f"invalid source name {name!r} (expected {expected})")
        sources[name] = WebhookSource(
            name=name,
            type=source.string("type", "", choices=WEBHOOK_TYPES, required=True),
            credential=source.string(
                "credential", None, pattern=INSTANCE_RE, expected=INSTANCE_EXPECTED
            ),
        )
        source.finish()
    return sources


def _read_telemetry(table: Table) -> TelemetryConfig:
    headers_table = table.table("headers")
    headers = {}
    for name in headers_table.names():
        value = headers_table.string(name, None, expected="a header value string")
        if value is not None:
            headers[name] = value
    telemetry = TelemetryConfig(
        enabled=table.boolean("enabled", False),
        provider=table.string("provider", "none"),
        endpoint=table.string(
            "endpoint", None, pattern=_URL_RE, expected="an http:// or https:// URL"
        ),
        service_name=table.string("serviceName", "action-llama"),
        headers=headers,
        sampling_rate=table.number(
            "samplingRate",
            1.0,
            valid=lambda n: 0 <= n <= 1,
            expected="a number from 0 to 1",
        ),
    )
    table.finish()
    return telemetry
