"""
Reading config files from disk: TOML files and SKILL.md.

Each reader reports a file it cannot use to the `IssueLog`, with the line and
column where the parser stopped, and returns ``None``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from attrs import frozen

from ._issues import IssueLog
from ._table import describe

_TOML_POSITION = re.compile(r"(?P<reason>.*) \(at (?P<where>[^()]*)\)\Z", re.DOTALL)
_FENCE = "---"
_FRONTMATTER_EXPECTED = "YAML `key: value` lines, such as `description: Reviews PRs`"


@frozen
class Skill:
    """
    A parsed SKILL.md.

    :ivar frontmatter: the YAML frontmatter; empty when there is none.
    :ivar body: the markdown after the frontmatter, without surrounding
        blank lines.
    """

    frontmatter: dict[str, Any]
    body: str


def read_toml(log: IssueLog, path: Path) -> dict[str, Any] | None:
    """
    Parse a TOML file; a missing file is an empty table.

    :param log: where problems go.
    :param path: the file.
    :returns: the table, or ``None`` when the file cannot be used.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        log.error(path, "(file)", f"cannot be read: {e.strerror} (expected a file)")
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        message = f"byte {e.start} is not UTF-8 (expected a UTF-8 text file)"
        log.error(path, "(file)", message)
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        log.error(path, "(syntax)", _toml_message(str(e)))
        return None


def _toml_message(error: str) -> str:
    match = _TOML_POSITION.match(error)
    if match is None:
        return f"invalid TOML: {error} (expected TOML syntax, see https://toml.io)"
    reason = match["reason"]
    return (
        f"invalid TOML at {match['where']}: {reason[:1].lower()}{reason[1:]} "
        f"(expected TOML syntax, see https://toml.io)"
    )


def read_skill(log: IssueLog, path: Path) -> Skill | None:
    """
    Split a SKILL.md into its YAML frontmatter and markdown body.

    The frontmatter is optional; when present it sits between a first line
    ``---`` and the next line ``---``.

    :param log: where problems go.
    :param path: the SKILL.md file.
    :returns: the parsed file, or ``None`` when it cannot be used.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        message = f"byte {e.start} is not UTF-8 (expected a UTF-8 text file)"
        log.error(path, "(file)", message)
        return None
    except OSError as e:
        log.error(path, "(file)", f"cannot be read: {e.strerror} (expected a file)")
        return None
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != _FENCE:
        return Skill({}, text.strip())
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == _FENCE), None)
    if end is None:
        message = (
            "the first line is '---' but no later line closes the frontmatter "
            "(expected a second '---' line after the YAML)"
        )
        log.error(path, "frontmatter", message)
        return None
    try:
        data = yaml.safe_load("".join(lines[1:end]))
    except yaml.YAMLError as e:
        log.error(path, "frontmatter", _yaml_message(e))
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        message = f"got {describe(data)} (expected {_FRONTMATTER_EXPECTED})"
        log.error(path, "frontmatter", message)
        return None
    frontmatter = {str(key): value for key, value in data.items()}
    return Skill(frontmatter, "".join(lines[end + 1 :]).strip())


def _yaml_message(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or "cannot be parsed"
    mark = getattr(error, "problem_mark", None)
    # The mark counts from 0 within the frontmatter, which starts on line 2.
    where = (
        "" if mark is None else f" at line {mark.line + 2}, column {mark.column + 1}"
    )
    return f"invalid YAML{where}: {problem} (expected {_FRONTMATTER_EXPECTED})"
