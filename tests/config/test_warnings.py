"""
Tests for warnings: unknown fields and other problems that do not stop a
project from loading, unless it is loaded strictly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from action_llama.config import ConfigIssue, load_project

from .builders import load_errors, write_agent, write_project


def _fields(
    issues: tuple[ConfigIssue, ...] | list[ConfigIssue],
) -> list[tuple[str, str]]:
    """
    The file and field of each issue.
    """
    return [(issue.file.as_posix(), issue.field) for issue in issues]


def test_unknown_top_level_field_warns(tmp_path: Path) -> None:
    """
    An unknown top-level field is a warning, and the project still loads.
    """
    root = write_project(tmp_path / "p", "maxReruns = 2\nfavouriteColour = 'red'\n")
    project = load_project(root)
    assert project.max_reruns == 2
    (warning,) = project.warnings
    assert warning == ConfigIssue(
        Path("config.toml"),
        "favouriteColour",
        "unknown field, ignored (expected one of: gateway, historyRetentionDays, "
        "local, maxCallDepth, maxReruns, models, resourceLockTimeout, scale, "
        "telemetry, webhooks, workQueueSize)",
        "warning",
    )


def test_misspelt_field_suggests_the_known_one(tmp_path: Path) -> None:
    """
    A misspelt field gets a warning naming the field it resembles.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "dev", config='schedule = "0 * * * *"\nshedule = "x"\n')
    (warning,) = load_project(root).warnings
    assert str(warning) == (
        "agents/dev/config.toml: shedule: unknown field, ignored "
        "(did you mean 'schedule'?)"
    )


def test_unknown_fields_everywhere_warn(tmp_path: Path) -> None:
    """
    Unknown fields warn in every table, the agent config and the frontmatter.
    """
    config = (
        "[models.m]\nprovider = 'openai'\nmodel = 'x'\ntemperature = 1\n"
        "[local]\ndisk = '1g'\n"
        "[gateway]\nhost = 'x'\n"
        "[webhooks.gh]\ntype = 'github'\nsecret = 'x'\n"
        "[telemetry]\nexporter = 'x'\n"
    )
    root = write_project(tmp_path / "p", config)
    agent_config = (
        'schedule = "0 * * * *"\ncolour = "red"\n'
        '[[webhooks]]\nsource = "gh"\nstars = ["5"]\n'
        "[hooks]\nduring = []\n"
        '[runtime]\nimage = "x"\n'
    )
    write_agent(root, "dev", config=agent_config, skill="---\nversion: 2\n---\nBody\n")
    project = load_project(root)
    assert sorted(_fields(project.warnings)) == [
        ("agents/dev/SKILL.md", "frontmatter.version"),
        ("agents/dev/config.toml", "colour"),
        ("agents/dev/config.toml", "hooks.during"),
        ("agents/dev/config.toml", "runtime.image"),
        ("agents/dev/config.toml", "webhooks[0].stars"),
        ("config.toml", "gateway.host"),
        ("config.toml", "local.disk"),
        ("config.toml", "models.m.temperature"),
        ("config.toml", "telemetry.exporter"),
        ("config.toml", "webhooks.gh.secret"),
    ]
    assert all(warning.severity == "warning" for warning in project.warnings)


def test_unknown_webhook_filter_is_ignored(tmp_path: Path) -> None:
    """
    An unknown webhook filter is left out of the trigger's filters.
    """
    root = write_project(tmp_path / "p", '[webhooks.gh]\ntype = "github"\n')
    config = '[[webhooks]]\nsource = "gh"\nevents = ["push"]\nrepo = ["a/b"]\n'
    write_agent(root, "dev", config=config)
    project = load_project(root)
    assert project.agent("dev").webhooks[0].filters == {"events": ("push",)}
    (warning,) = project.warnings
    assert warning.field == "webhooks[0].repo"
    assert warning.message == "unknown field, ignored (did you mean 'repos'?)"


def test_unknown_fields_are_errors_when_strict(tmp_path: Path) -> None:
    """
    Under strict loading every unknown field is an error, all reported.
    """
    root = write_project(tmp_path / "p", "favouriteColour = 'red'\n")
    write_agent(root, "dev", config='schedule = "0 * * * *"\ncolour = "red"\n')
    error = load_errors(root, strict=True)
    assert _fields(error.issues) == [
        ("config.toml", "favouriteColour"),
        ("agents/dev/config.toml", "colour"),
    ]
    assert all(issue.severity == "error" for issue in error.issues)
    assert error.warnings == []


def test_error_carries_warnings(tmp_path: Path) -> None:
    """
    A failed load keeps the warnings found beside its errors.
    """
    root = write_project(tmp_path / "p", "maxReruns = -1\ncolour = 'red'\n")
    error = load_errors(root)
    assert _fields(error.issues) == [("config.toml", "maxReruns")]
    assert _fields(error.warnings) == [("config.toml", "colour")]


def test_frontmatter_name_differs_from_directory(tmp_path: Path) -> None:
    """
    A frontmatter name unlike the directory name warns; the directory wins.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "dev", skill="---\nname: developer\n---\nBody\n")
    project = load_project(root)
    assert project.agents[0].name == "dev"
    (warning,) = project.warnings
    assert (warning.field, warning.message) == (
        "frontmatter.name",
        "'developer' differs from the directory name, which is the agent's "
        "name (expected 'dev')",
    )


def test_run_as_without_host_user_warns(tmp_path: Path) -> None:
    """
    ``run_as`` with the local runtime warns that it is ignored.
    """
    root = write_project(tmp_path / "p")
    config = 'schedule = "0 * * * *"\n[runtime]\nrun_as = "bot"\n'
    write_agent(root, "dev", config=config)
    project = load_project(root)
    assert project.agent("dev").runtime.run_as == "bot"
    assert _fields(project.warnings) == [("agents/dev/config.toml", "runtime.run_as")]


@pytest.mark.parametrize("strict", [False, True])
def test_clean_project_has_no_warnings(tmp_path: Path, strict: bool) -> None:
    """
    A project using only known fields loads with no warnings, strict or not.
    """
    root = write_project(tmp_path / "p", "maxReruns = 1\n")
    write_agent(root, "dev")
    assert load_project(root, strict=strict).warnings == ()
