"""
Tests for loading valid projects: the compatibility fixture, defaults and
resolved values.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from action_llama.config import (
    AGENT_NAME_RE,
    GatewayConfig,
    Hooks,
    LocalConfig,
    ModelConfig,
    RuntimeConfig,
    TelemetryConfig,
    WebhookSource,
    WebhookTrigger,
    load_project,
)

from .builders import FIXTURE, copy_fixture, write_agent, write_project


def test_fixture_loads_strictly_without_warnings(tmp_path: Path) -> None:
    """
    The original tool's project loads under strict mode with no warnings.
    """
    root = copy_fixture(tmp_path / "project")
    project = load_project(root, strict=True)
    assert project.warnings == ()
    assert project.root == root
    assert project.state_dir == root / ".al"


def test_fixture_project_fields(tmp_path: Path) -> None:
    """
    Every top-level field of the fixture's config.toml is read.
    """
    project = load_project(copy_fixture(tmp_path / "project"), strict=True)
    assert project.max_reruns == 5
    assert project.max_call_depth == 2
    assert project.work_queue_size == 50
    assert project.scale == 6
    assert project.resource_lock_timeout == 900
    assert project.history_retention_days == 30
    assert project.models == {
        "sonnet": ModelConfig(
            "sonnet", "anthropic", "claude-sonnet-4-20250514", "api_key", "medium"
        ),
        "haiku": ModelConfig("haiku", "anthropic", "claude-haiku-4-5-20251001"),
        "gpt4o": ModelConfig("gpt4o", "openai", "gpt-4o"),
    }
    assert project.local == LocalConfig(
        timeout=1200, image="al-agent:latest", memory="4g", cpus=2
    )
    assert project.gateway == GatewayConfig(port=8080)
    assert project.webhooks == {
        "acme-github": WebhookSource("acme-github", "github", "AcmeOrg"),
        "acme-sentry": WebhookSource("acme-sentry", "sentry", "SentryProd"),
        "public-github": WebhookSource("public-github", "github", None),
    }
    assert project.telemetry == TelemetryConfig(enabled=False, provider="none")


def test_fixture_agents(tmp_path: Path) -> None:
    """
    The fixture's five agents are found and sorted by name.
    """
    project = load_project(copy_fixture(tmp_path / "project"), strict=True)
    assert [agent.name for agent in project.agents] == [
        "dev",
        "devops",
        "reporter",
        "reviewer",
        "sentry-fixer",
    ]


def test_fixture_dev_agent(tmp_path: Path) -> None:
    """
    Every field of the fixture's richest agent is read, frontmatter included.
    """
    root = copy_fixture(tmp_path / "project")
    dev = load_project(root, strict=True).agent("dev")
    assert dev.directory == root / "agents" / "dev"
    assert dev.description == (
        'Picks up issues labelled "agent" and opens pull requests that fix them'
    )
    assert dev.license == "MIT"
    assert dev.compatibility == ">=0.5.0"
    assert dev.instructions.startswith("# Dev agent\n\nYou fix GitHub issues.")
    assert dev.instructions.endswith("run `al-rerun`.")
    assert dev.source == "acme/dev-skills"
    assert dev.models == ("sonnet", "haiku")
    assert dev.credentials == ("github_token", "git_ssh")
    assert dev.schedule == "*/15 * * * *"
    assert dev.timezone == "UTC"
    assert dev.scale == 2
    assert dev.timeout == 1800
    assert dev.max_work_queue_size == 20
    assert dev.webhooks == (
        WebhookTrigger(
            "acme-github",
            {
                "repos": ("acme/app", "acme/api"),
                "events": ("issues",),
                "actions": ("labeled", "opened"),
                "labels": ("agent",),
            },
        ),
    )
    assert dev.hooks == Hooks(
        pre=("mkdir -p /tmp/context", "echo ready > /tmp/context/flag"),
        post=("echo done",),
    )
    assert dev.params == {
        "repos": ["acme/app", "acme/api"],
        "triggerLabel": "agent",
        "assignee": "acme-bot",
    }
    assert dev.runtime == RuntimeConfig()
    assert not dev.is_script
    assert dev.enabled_by_config


def test_fixture_other_agents(tmp_path: Path) -> None:
    """
    The disabled, host-user, multi-trigger and Sentry agents are read.
    """
    project = load_project(copy_fixture(tmp_path / "project"), strict=True)
    devops = project.agent("devops")
    assert devops.scale == 0
    assert not devops.enabled_by_config
    assert devops.schedule is None
    assert devops.webhooks == ()
    assert devops.timeout == 1200
    assert devops.max_work_queue_size == 50

    reporter = project.agent("reporter")
    assert reporter.runtime == RuntimeConfig("host-user", "al-agent")
    assert reporter.schedule == "0 6 * * 1-5"
    assert reporter.timeout == 600
    assert reporter.params == {"repos": ["acme/app"]}

    reviewer = project.agent("reviewer")
    assert reviewer.license is None
    assert reviewer.compatibility is None
    assert reviewer.webhooks == (
        WebhookTrigger(
            "acme-github",
            {
                "events": ("pull_request",),
                "actions": ("opened", "synchronize", "reopened"),
                "branches": ("main",),
            },
        ),
        WebhookTrigger(
            "public-github",
            {"events": ("pull_request",), "author": ("dependabot[bot]",)},
        ),
    )

    sentry = project.agent("sentry-fixer")
    assert sentry.credentials == ("sentry_token", "github_token")
    assert sentry.webhooks == (
        WebhookTrigger("acme-sentry", {"resources": ("error", "event_alert")}),
    )
    assert sentry.params == {"sentryOrg": "acme", "sentryProjects": ["web-app", "api"]}


def test_fixture_loads_in_place() -> None:
    """
    The shared fixture loads where it lives, without being written to.
    """
    if not FIXTURE.is_dir():
        pytest.skip(f"the compatibility fixture is not at {FIXTURE}")
    before = sorted(path.name for path in FIXTURE.rglob("*"))
    assert len(load_project(str(FIXTURE), strict=True).agents) == 5
    assert sorted(path.name for path in FIXTURE.rglob("*")) == before


def test_empty_project_has_defaults(tmp_path: Path) -> None:
    """
    A directory with no config.toml and no agents loads with every default.
    """
    project = load_project(write_project(tmp_path / "project"))
    assert project.max_reruns == 10
    assert project.max_call_depth == 3
    assert project.work_queue_size == 100
    assert project.scale is None
    assert project.resource_lock_timeout == 1800
    assert project.history_retention_days == 14
    assert project.models == {}
    assert project.local == LocalConfig()
    assert project.gateway.port == 8080
    assert project.webhooks == {}
    assert project.telemetry == TelemetryConfig()
    assert project.agents == ()
    assert project.warnings == ()


def test_relative_root_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A project given by a relative path gets an absolute root.
    """
    write_project(tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    assert load_project("project").root == tmp_path / "project"


def test_agent_defaults(tmp_path: Path) -> None:
    """
    An agent that sets only a schedule gets every other default.
    """
    root = write_project(tmp_path / "project")
    write_agent(root, "nightly", config='schedule = "0 3 * * *"\n')
    agent = load_project(root).agent("nightly")
    assert agent.description == "Does a thing"
    assert agent.instructions == "Do the thing."
    assert agent.license is None
    assert agent.source is None
    assert agent.models == ()
    assert agent.credentials == ()
    assert agent.timezone == "UTC"
    assert agent.scale == 1
    assert agent.timeout == 900
    assert agent.max_work_queue_size == 100
    assert agent.webhooks == ()
    assert agent.hooks == Hooks()
    assert agent.params == {}
    assert agent.runtime == RuntimeConfig("local", None)


def test_timeout_from_agent(tmp_path: Path) -> None:
    """
    An agent's own timeout wins over the project's ``[local].timeout``.
    """
    root = write_project(tmp_path / "project", "[local]\ntimeout = 1200\n")
    write_agent(root, "a", config='schedule = "0 * * * *"\ntimeout = 60\n')
    assert load_project(root).agent("a").timeout == 60


def test_timeout_from_project_local(tmp_path: Path) -> None:
    """
    Without its own timeout an agent takes the project's ``[local].timeout``.
    """
    root = write_project(tmp_path / "project", "[local]\ntimeout = 1200\n")
    write_agent(root, "a")
    assert load_project(root).agent("a").timeout == 1200


def test_timeout_default(tmp_path: Path) -> None:
    """
    With no timeout anywhere an agent gets 900 seconds.
    """
    root = write_project(tmp_path / "project", "[local]\nimage = 'x'\n")
    write_agent(root, "a")
    assert load_project(root).agent("a").timeout == 900


def test_work_queue_size_fallback(tmp_path: Path) -> None:
    """
    ``maxWorkQueueSize`` falls back to the project's ``workQueueSize``.
    """
    root = write_project(tmp_path / "project", "workQueueSize = 7\n")
    write_agent(root, "own", config='schedule = "0 * * * *"\nmaxWorkQueueSize = 3\n')
    write_agent(root, "inherits")
    project = load_project(root)
    assert project.agent("own").max_work_queue_size == 3
    assert project.agent("inherits").max_work_queue_size == 7


def test_script_agent(tmp_path: Path) -> None:
    """
    An agent without models is a script agent that runs its hooks.
    """
    root = write_project(tmp_path / "project")
    config = 'schedule = "0 * * * *"\n[hooks]\npre = ["./backup.sh"]\n'
    write_agent(root, "backup", config=config)
    agent = load_project(root).agent("backup")
    assert agent.is_script
    assert agent.hooks == Hooks(pre=("./backup.sh",))


def test_disabled_agent_needs_no_trigger(tmp_path: Path) -> None:
    """
    An agent with ``scale = 0`` loads without a schedule or webhooks.
    """
    root = write_project(tmp_path / "project")
    write_agent(root, "off", config="scale = 0\n")
    agent = load_project(root).agent("off")
    assert not agent.enabled_by_config


def test_directories_without_skill_are_ignored(tmp_path: Path) -> None:
    """
    Only directories holding a SKILL.md are agents; hidden ones are skipped.
    """
    root = write_project(tmp_path / "project")
    write_agent(root, "real")
    (root / "agents" / "Not An Agent").mkdir()
    (root / "agents" / "README.md").write_text("notes\n")
    write_agent(root, ".hidden", config=None)
    assert [agent.name for agent in load_project(root).agents] == ["real"]


def test_agents_sorted_and_found_by_name(tmp_path: Path) -> None:
    """
    Agents come sorted by name, and an unknown name raises ``KeyError``.
    """
    root = write_project(tmp_path / "project")
    for name in ("zeta", "alpha", "mid_1"):
        write_agent(root, name)
    project = load_project(root)
    assert [agent.name for agent in project.agents] == ["alpha", "mid_1", "zeta"]
    assert project.agent("zeta").name == "zeta"
    with pytest.raises(KeyError):
        project.agent("nope")


def test_webhook_filter_string_becomes_tuple(tmp_path: Path) -> None:
    """
    A filter given as one string is read as a 1-tuple; file order is kept.
    """
    root = write_project(tmp_path / "project", '[webhooks.gh]\ntype = "github"\n')
    config = '[[webhooks]]\nsource = "gh"\norg = "acme"\nauthor = "bot"\n'
    write_agent(root, "a", config=config)
    (trigger,) = load_project(root).agent("a").webhooks
    assert trigger == WebhookTrigger("gh", {"org": ("acme",), "author": ("bot",)})
    assert list(trigger.filters) == ["org", "author"]


def test_schedule_with_timezone(tmp_path: Path) -> None:
    """
    A schedule is read in the agent's IANA timezone.
    """
    root = write_project(tmp_path / "project")
    config = 'schedule = "30 9 * * 1-5"\ntimezone = "Europe/Paris"\n'
    write_agent(root, "a", config=config)
    agent = load_project(root).agent("a")
    assert (agent.schedule, agent.timezone) == ("30 9 * * 1-5", "Europe/Paris")


def test_hashed_schedule(tmp_path: Path) -> None:
    """
    A Jenkins-style ``H`` schedule is accepted.
    """
    root = write_project(tmp_path / "project")
    write_agent(root, "spread", config='schedule = "H H * * *"\n')
    assert load_project(root).agent("spread").schedule == "H H * * *"


def test_model_extensions(tmp_path: Path) -> None:
    """
    A model can name an OpenAI-compatible server by ``baseUrl``.
    """
    config = (
        "[models.local]\n"
        'provider = "custom"\n'
        'model = "llama3"\n'
        'baseUrl = "http://127.0.0.1:11434/v1"\n'
    )
    root = write_project(tmp_path / "project", config)
    write_agent(root, "a", config='models = ["local"]\nschedule = "0 * * * *"\n')
    project = load_project(root, strict=True)
    assert project.models["local"].base_url == "http://127.0.0.1:11434/v1"
    assert project.models["local"].auth_type == "api_key"


def test_telemetry_fields(tmp_path: Path) -> None:
    """
    Every ``[telemetry]`` field is accepted.
    """
    config = (
        "[telemetry]\n"
        "enabled = true\n"
        'provider = "otel"\n'
        'endpoint = "https://otel.example.com/v1"\n'
        'serviceName = "al"\n'
        "samplingRate = 0.5\n"
        "[telemetry.headers]\n"
        'x-token = "abc"\n'
    )
    project = load_project(write_project(tmp_path / "project", config), strict=True)
    assert project.telemetry == TelemetryConfig(
        True, "otel", "https://otel.example.com/v1", "al", {"x-token": "abc"}, 0.5
    )


def test_loaded_config_is_read_only(tmp_path: Path) -> None:
    """
    The mappings of a loaded project cannot be changed in place.
    """
    project = load_project(copy_fixture(tmp_path / "project"))
    with pytest.raises(TypeError):
        project.models["new"] = project.models["haiku"]  # type: ignore[index]
    with pytest.raises(TypeError):
        project.agent("dev").params["x"] = 1  # type: ignore[index]


@pytest.mark.parametrize("name", ["dev", "sentry-fixer", "a_b", "0day"])
def test_agent_name_pattern_accepts(name: str) -> None:
    """
    ``AGENT_NAME_RE`` accepts lowercase names with digits, '-' and '_'.
    """
    assert AGENT_NAME_RE.match(name)


@pytest.mark.parametrize("name", ["Dev", "-x", "_x", "a b", "a.b", "a/b", "", "x\n"])
def test_agent_name_pattern_rejects(name: str) -> None:
    """
    ``AGENT_NAME_RE`` rejects capitals, leading punctuation and other characters.
    """
    assert not AGENT_NAME_RE.match(name)
