"""
Loading a whole project: the entry point of the package.
"""

from __future__ import annotations

from pathlib import Path

from attrs import evolve

from ._agent import read_agent
from ._files import read_toml
from ._issues import ConfigError, ConfigIssue, IssueLog
from ._model import ProjectConfig
from ._project import read_project
from ._table import Table


def load_project(root: Path | str, strict: bool = False) -> ProjectConfig:
    """
    Load and check a project: its ``config.toml`` and every agent under
    ``agents/``.

    Every file is checked in full before anything is raised, so one
    `ConfigError` reports every error in the project.

    :param root: the project directory.
    :param strict: treat warnings, such as unknown fields, as errors.
    :returns: the project, with its warnings.
    :raises ConfigError: if anything is wrong.
    """
    root = Path(root).absolute()
    if not root.is_dir():
        expected = "a directory holding config.toml and agents/"
        issue = ConfigIssue(root, "(project)", f"not a directory (expected {expected})")
        raise ConfigError([issue])
    log = IssueLog(root, strict)
    data = read_toml(log, root / "config.toml")
    project = read_project(root, Table(log, root / "config.toml", data or {}))
    agents = []
    for directory in _agent_directories(log, root):
        agent = read_agent(log, project, directory, check_references=data is not None)
        if agent is not None:
            agents.append(agent)
    if log.errors:
        raise ConfigError(log.errors, log.warnings)
    agents.sort(key=lambda agent: agent.name)
    return evolve(project, agents=tuple(agents), warnings=tuple(log.warnings))


def _agent_directories(log: IssueLog, root: Path) -> list[Path]:
    """
    Every directory ``agents/<name>/`` holding a SKILL.md, skipping hidden
    ones.
    """
    agents = root / "agents"
    expected = "a directory holding one directory per agent"
    try:
        entries = sorted(agents.iterdir())
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        log.error(agents, "(directory)", f"is a file (expected {expected})")
        return []
    except OSError as e:
        log.error(
            agents, "(directory)", f"cannot be read: {e.strerror} (expected {expected})"
        )
        return []
    return [
        entry
        for entry in entries
        if not entry.name.startswith(".")
        and entry.is_dir()
        and (entry / "SKILL.md").is_file()
    ]
