"""
Helpers that write small projects to disk for the config tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from action_llama.config import ConfigError, load_project

#: The compatibility fixture: a project written for the original tool.
FIXTURE = Path(__file__).parents[2].parent / "shared" / "fixtures" / "existing-project"

#: A SKILL.md with frontmatter and a body.
DEFAULT_SKILL = "---\ndescription: Does a thing\n---\n\nDo the thing.\n"


def copy_fixture(destination: Path) -> Path:
    """
    Copy the compatibility fixture, skipping the test when it is absent.

    :param destination: where the copy goes; must not exist yet.
    :returns: the copy's root.
    """
    if not FIXTURE.is_dir():
        pytest.skip(f"the compatibility fixture is not at {FIXTURE}")
    shutil.copytree(FIXTURE, destination)
    return destination


def write_project(root: Path, config: str | None = None) -> Path:
    """
    Create a project directory, with a top-level config.toml if given.

    :param root: the project directory.
    :param config: the text of config.toml; no file when ``None``.
    :returns: ``root``.
    """
    root.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (root / "config.toml").write_text(config, encoding="utf-8")
    return root


def write_agent(
    root: Path,
    name: str,
    config: str | None = 'schedule = "0 * * * *"\n',
    skill: str = DEFAULT_SKILL,
) -> Path:
    """
    Create ``agents/<name>/`` with a SKILL.md and a config.toml.

    :param root: the project directory.
    :param name: the agent's directory name.
    :param config: the text of the agent's config.toml; no file when ``None``.
    :param skill: the text of SKILL.md.
    :returns: the agent's directory.
    """
    directory = root / "agents" / name
    directory.mkdir(parents=True)
    (directory / "SKILL.md").write_text(skill, encoding="utf-8")
    if config is not None:
        (directory / "config.toml").write_text(config, encoding="utf-8")
    return directory


def load_errors(root: Path, strict: bool = False) -> ConfigError:
    """
    Load a project that must fail, and return the error.

    :param root: the project directory.
    :param strict: load strictly.
    """
    with pytest.raises(ConfigError) as info:
        load_project(root, strict=strict)
    return info.value


def only_issue(error: ConfigError) -> tuple[str, str, str]:
    """
    The single issue of an error, as file, field and message.

    :param error: an error that must hold exactly one issue.
    """
    assert len(error.issues) == 1, str(error)
    issue = error.issues[0]
    return issue.file.as_posix(), issue.field, issue.message
