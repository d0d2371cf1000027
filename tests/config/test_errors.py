"""
Tests for projects that must not load: every error names its file, its field
and what was expected.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from action_llama.config import ConfigError, ConfigIssue, load_project

from .builders import load_errors, only_issue, write_agent, write_project

_MODELS = '[models.sonnet]\nprovider = "anthropic"\nmodel = "claude-sonnet-4"\n'
_SOURCES = '[webhooks.gh]\ntype = "github"\n'


def test_issue_renders_file_field_and_message() -> None:
    """
    An issue renders as ``<file>: <field>: <message>``.
    """
    issue = ConfigIssue(Path("agents/dev/config.toml"), "schedule", "bad (expected x)")
    assert str(issue) == "agents/dev/config.toml: schedule: bad (expected x)"
    assert issue.severity == "error"


def test_error_lists_issues_one_per_line() -> None:
    """
    A ``ConfigError`` renders each of its issues on its own line.
    """
    first = ConfigIssue(Path("config.toml"), "scale", "one")
    second = ConfigIssue(Path("agents/a/config.toml"), "timeout", "two")
    error = ConfigError([first, second])
    assert error.issues == [first, second]
    assert str(error) == "config.toml: scale: one\nagents/a/config.toml: timeout: two"


def test_project_toml_syntax_error(tmp_path: Path) -> None:
    """
    A project config.toml that does not parse is reported with its position.
    """
    root = write_project(tmp_path / "p", "maxReruns = 3\nscale = \n")
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("config.toml", "(syntax)")
    assert "line 2, column" in message
    assert "expected" in message


def test_agent_toml_syntax_error(tmp_path: Path) -> None:
    """
    An agent config.toml that does not parse is reported with its position.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "dev", config='schedule = "0 * * * *"\n[hooks\n')
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("agents/dev/config.toml", "(syntax)")
    assert "invalid TOML at line 2, column" in message


def test_broken_project_toml_hides_reference_errors(tmp_path: Path) -> None:
    """
    When the project config.toml does not parse, agents' references to its
    models and sources are not reported as unknown as well.
    """
    root = write_project(tmp_path / "p", "[models.sonnet\n")
    config = 'models = ["sonnet"]\n[[webhooks]]\nsource = "gh"\n'
    write_agent(root, "dev", config=config)
    file, field, _ = only_issue(load_errors(root))
    assert (file, field) == ("config.toml", "(syntax)")


def test_unknown_model(tmp_path: Path) -> None:
    """
    An agent naming a model that the project does not define is an error.
    """
    root = write_project(tmp_path / "p", _MODELS)
    config = 'models = ["sonnet", "opus"]\nschedule = "0 * * * *"\n'
    write_agent(root, "dev", config=config)
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("agents/dev/config.toml", "models[1]")
    assert message == (
        "unknown model 'opus' (expected one of the [models.<name>] tables of "
        "config.toml: sonnet)"
    )


def test_unknown_model_when_none_defined(tmp_path: Path) -> None:
    """
    The unknown-model error says when the project defines no models at all.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "dev", config='models = ["sonnet"]\nschedule = "0 * * * *"\n')
    _, field, message = only_issue(load_errors(root))
    assert field == "models[0]"
    assert "there is none" in message


def test_bad_cron(tmp_path: Path) -> None:
    """
    A schedule that is not a cron expression is an error naming the field.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "dev", config='schedule = "61 * * * *"\n')
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("agents/dev/config.toml", "schedule")
    assert "61 * * * *" in message
    assert "(expected five fields" in message


def test_bad_timezone(tmp_path: Path) -> None:
    """
    A timezone that is not an IANA name is an error naming the field.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "dev", config='schedule = "0 * * * *"\ntimezone = "Mars/Base"\n')
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("agents/dev/config.toml", "timezone")
    assert message.startswith("unknown timezone 'Mars/Base' (expected an IANA")


def test_bad_timezone_and_bad_cron(tmp_path: Path) -> None:
    """
    A bad cron expression is still reported beside a bad timezone.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "dev", config='schedule = "nope"\ntimezone = "Nowhere"\n')
    fields = {issue.field for issue in load_errors(root).issues}
    assert fields == {"schedule", "timezone"}


def test_missing_webhook_source(tmp_path: Path) -> None:
    """
    A trigger naming a source the project does not define is an error.
    """
    root = write_project(tmp_path / "p", _SOURCES)
    config = '[[webhooks]]\nsource = "gh"\n[[webhooks]]\nsource = "gitlab"\n'
    write_agent(root, "dev", config=config)
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("agents/dev/config.toml", "webhooks[1].source")
    assert message == (
        "unknown webhook source 'gitlab' (expected one of the [webhooks.<name>] tables "
        "of config.toml: gh)"
    )


def test_trigger_without_source(tmp_path: Path) -> None:
    """
    A ``[[webhooks]]`` entry without ``source`` is an error.
    """
    root = write_project(tmp_path / "p", _SOURCES)
    write_agent(root, "dev", config='[[webhooks]]\nevents = ["push"]\n')
    _, field, message = only_issue(load_errors(root))
    assert field == "webhooks[0].source"
    assert message.startswith("missing (expected the name of a [webhooks.<name>]")


def test_unknown_webhook_source_type(tmp_path: Path) -> None:
    """
    A webhook source of an unknown provider type is an error.
    """
    root = write_project(tmp_path / "p", '[webhooks.gl]\ntype = "gitlab"\n')
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("config.toml", "webhooks.gl.type")
    assert message == (
        'got "gitlab" (expected one of: discord, github, linear, mintlify, '
        "sentry, slack, twitter)"
    )


def test_unknown_provider(tmp_path: Path) -> None:
    """
    A model of an unknown provider is an error naming the dotted field.
    """
    root = write_project(tmp_path / "p", '[models.m]\nprovider = "acme"\nmodel = "x"\n')
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("config.toml", "models.m.provider")
    assert message.startswith('got "acme" (expected one of: anthropic, custom,')


def test_model_missing_fields(tmp_path: Path) -> None:
    """
    A model without ``provider`` and ``model`` reports both as missing.
    """
    root = write_project(tmp_path / "p", "[models.m]\n")
    issues = load_errors(root).issues
    assert [(issue.field, issue.message[:7]) for issue in issues] == [
        ("models.m.provider", "missing"),
        ("models.m.model", "missing"),
    ]


def test_unsafe_agent_directory_name(tmp_path: Path) -> None:
    """
    An agent directory with an unsafe name is an error naming the directory.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "Bad Name")
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("agents/Bad Name", "(agent name)")
    assert message.startswith("'Bad Name' is not a valid agent name (expected")


def test_unsafe_agent_name_still_checks_files(tmp_path: Path) -> None:
    """
    The files of a wrongly named agent are still checked.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "Dev", config="scale = -1\n")
    files = {(issue.file.as_posix(), issue.field) for issue in load_errors(root).issues}
    assert files == {
        ("agents/Dev", "(agent name)"),
        ("agents/Dev/config.toml", "scale"),
    }


def test_agent_without_schedule_or_webhooks(tmp_path: Path) -> None:
    """
    An enabled agent with neither a schedule nor webhooks is an error.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "idle", config="models = []\n")
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("agents/idle/config.toml", "schedule")
    assert "or scale = 0" in message


def test_schedule_of_wrong_type_is_one_error(tmp_path: Path) -> None:
    """
    A schedule of the wrong type is reported once, not also as missing.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "dev", config='schedule = ["0 * * * *"]\n')
    assert only_issue(load_errors(root)) == (
        "agents/dev/config.toml",
        "schedule",
        'got a list (expected a cron expression, such as "*/15 * * * *")',
    )


def test_scale_of_wrong_type_is_one_error(tmp_path: Path) -> None:
    """
    A scale of the wrong type is reported once, not also as a missing trigger.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "dev", config='scale = "none"\n')
    assert only_issue(load_errors(root))[1] == "scale"


def test_missing_agent_config_is_empty(tmp_path: Path) -> None:
    """
    An agent without config.toml is read as an empty one, and so never runs.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "bare", config=None)
    file, field, _ = only_issue(load_errors(root))
    assert (file, field) == ("agents/bare/config.toml", "schedule")


def test_empty_webhooks_list_is_no_trigger(tmp_path: Path) -> None:
    """
    ``webhooks = []`` does not count as a trigger.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "idle", config="webhooks = []\n")
    _, field, _ = only_issue(load_errors(root))
    assert field == "schedule"


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ('scale = "two"', "scale", 'got "two" (expected a whole number ≥ 0)'),
        ("scale = 1.5", "scale", "got 1.5 (expected a whole number ≥ 0)"),
        ("timeout = 0", "timeout", "got 0 (expected a whole number ≥ 1)"),
        ("timeout = true", "timeout", "got true (expected a whole number ≥ 1)"),
        (
            'models = "sonnet"',
            "models",
            'got "sonnet" (expected a list of strings, such as models = ["..."])',
        ),
        ("credentials = [1]", "credentials[0]", "got 1 (expected a string)"),
        (
            "timezone = 5",
            "timezone",
            'got 5 (expected an IANA timezone name, such as "Europe/Paris")',
        ),
        ('params = "x"', "params", 'got "x" (expected a table, written [params])'),
        (
            "[[hooks.pre]]\ncommand = 'x'",
            "hooks.pre[0]",
            "got a table (expected a string)",
        ),
        (
            'webhooks = "gh"',
            "webhooks",
            'got "gh" (expected an array of tables, written [[webhooks]])',
        ),
        (
            '[[webhooks]]\nsource = "gh"\nrepos = [1]',
            "webhooks[0].repos",
            "got a list (expected a string or a list of strings)",
        ),
        (
            '[runtime]\ntype = "docker"',
            "runtime.type",
            'got "docker" (expected one of: host-user, local)',
        ),
    ],
)
def test_wrong_types_in_agent_config(
    tmp_path: Path, config: str, field: str, message: str
) -> None:
    """
    A value of the wrong type or range names the field, what was found and
    what was expected.
    """
    root = write_project(tmp_path / "p", _SOURCES)
    write_agent(root, "dev", config=f'schedule = "0 * * * *"\n{config}\n')
    assert only_issue(load_errors(root)) == ("agents/dev/config.toml", field, message)


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ("maxReruns = -1", "maxReruns", "got -1 (expected a whole number ≥ 0)"),
        ("scale = 0", "scale", "got 0 (expected a whole number ≥ 1)"),
        (
            "[gateway]\nport = 70000",
            "gateway.port",
            "got 70000 (expected a whole number from 1 to 65535)",
        ),
        (
            "[gateway]\nport = 0",
            "gateway.port",
            "got 0 (expected a whole number from 1 to 65535)",
        ),
        ("[local]\ncpus = 0", "local.cpus", "got 0 (expected a number > 0)"),
        (
            "[local]\nmemory = 4",
            "local.memory",
            'got 4 (expected a memory size, such as "4g")',
        ),
        ("local = 3", "local", "got 3 (expected a table, written [local])"),
        (
            'models = { sonnet = "x" }',
            "models.sonnet",
            'got "x" (expected a model table, written [models.sonnet])',
        ),
        (
            '[webhooks.gh]\ntype = "github"\ncredential = "my org"',
            "webhooks.gh.credential",
            'got "my org" (expected a credential instance name: letters, digits, '
            "'_', '-' and '.', starting with a letter or digit)",
        ),
        (
            "[telemetry]\nsamplingRate = 2",
            "telemetry.samplingRate",
            "got 2 (expected a number from 0 to 1)",
        ),
        (
            '[telemetry]\nenabled = "yes"',
            "telemetry.enabled",
            'got "yes" (expected true or false)',
        ),
        (
            '[models."my.model"]\nprovider = "openai"\nmodel = "m"\n'
            'baseUrl = "localhost"',
            'models."my.model".baseUrl',
            'got "localhost" (expected an http:// or https:// URL)',
        ),
    ],
)
def test_wrong_types_in_project_config(
    tmp_path: Path, config: str, field: str, message: str
) -> None:
    """
    A project value of the wrong type or range names the dotted field.
    """
    root = write_project(tmp_path / "p", f"{config}\n")
    assert only_issue(load_errors(root)) == ("config.toml", field, message)


def test_host_user_without_run_as(tmp_path: Path) -> None:
    """
    ``[runtime] type = "host-user"`` without ``run_as`` is an error.
    """
    root = write_project(tmp_path / "p")
    config = 'schedule = "0 * * * *"\n[runtime]\ntype = "host-user"\n'
    write_agent(root, "dev", config=config)
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("agents/dev/config.toml", "runtime.run_as")
    assert message.startswith('missing, and type is "host-user" (expected')


@pytest.mark.parametrize(
    "ref", ["github token", "GitHub", "github_token:", ":x", "a:b/c"]
)
def test_bad_credential_reference(tmp_path: Path, ref: str) -> None:
    """
    A credential reference that is not ``type`` or ``type:instance`` is an
    error.
    """
    root = write_project(tmp_path / "p")
    config = f'schedule = "0 * * * *"\ncredentials = ["github_token", "{ref}"]\n'
    write_agent(root, "dev", config=config)
    _, field, message = only_issue(load_errors(root))
    assert field == "credentials[1]"
    assert message.startswith(f"invalid credential reference {ref!r} (expected")


def test_credential_instance_may_use_capitals(tmp_path: Path) -> None:
    """
    Credential instance names may contain capitals, dots and dashes.
    """
    root = write_project(tmp_path / "p")
    config = 'schedule = "0 * * * *"\ncredentials = ["github_token:AcmeOrg-2.x"]\n'
    write_agent(root, "dev", config=config)
    assert load_project(root).agent("dev").credentials == ("github_token:AcmeOrg-2.x",)


def test_bad_webhook_source_name(tmp_path: Path) -> None:
    """
    A webhook source whose name cannot appear in a URL is an error.
    """
    root = write_project(tmp_path / "p", '[webhooks."my source"]\ntype = "github"\n')
    _, field, message = only_issue(load_errors(root))
    assert field == 'webhooks."my source"'
    assert message.startswith("invalid source name 'my source' (expected")


def test_agents_is_a_file(tmp_path: Path) -> None:
    """
    A file named ``agents`` instead of a directory is an error.
    """
    root = write_project(tmp_path / "p")
    (root / "agents").write_text("")
    assert only_issue(load_errors(root))[:2] == ("agents", "(directory)")


def test_project_root_missing(tmp_path: Path) -> None:
    """
    Loading a directory that does not exist is an error naming it.
    """
    error = load_errors(tmp_path / "missing")
    file, field, message = only_issue(error)
    assert (file, field) == ((tmp_path / "missing").as_posix(), "(project)")
    assert message.startswith("not a directory")


def test_several_errors_are_reported_together(tmp_path: Path) -> None:
    """
    Every error of every file is reported in one ``ConfigError``.
    """
    root = write_project(tmp_path / "p", "maxReruns = -1\n[gateway]\nport = 0\n")
    write_agent(root, "a", config='schedule = "bad"\nmodels = ["ghost"]\n')
    write_agent(root, "b", config="timeout = 0\n[runtime]\ntype = 'host-user'\n")
    write_agent(root, "c", config="[broken\n")
    write_agent(root, "d", skill="---\nx: [\n---\n")
    error = load_errors(root)
    assert [(issue.file.as_posix(), issue.field) for issue in error.issues] == [
        ("config.toml", "maxReruns"),
        ("config.toml", "gateway.port"),
        ("agents/a/config.toml", "schedule"),
        ("agents/a/config.toml", "models[0]"),
        ("agents/b/config.toml", "timeout"),
        ("agents/b/config.toml", "runtime.run_as"),
        ("agents/b/config.toml", "schedule"),
        ("agents/c/config.toml", "(syntax)"),
        ("agents/d/SKILL.md", "frontmatter"),
    ]
    assert str(error).splitlines() == [str(issue) for issue in error.issues]
    assert all(issue.severity == "error" for issue in error.issues)
    assert all("expected" in issue.message for issue in error.issues)
