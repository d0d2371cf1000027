"""
Tests for reading SKILL.md: its optional YAML frontmatter and its body.
"""

from __future__ import annotations

from pathlib import Path

from action_llama.config import load_project

from .builders import load_errors, only_issue, write_agent, write_project


def test_empty_frontmatter(tmp_path: Path) -> None:
    """
    An empty frontmatter block is allowed.
    """
    root = write_project(tmp_path / "project")
    write_agent(root, "a", skill="---\n---\nBody\n")
    assert load_project(root, strict=True).agent("a").instructions == "Body"


def test_skill_without_frontmatter(tmp_path: Path) -> None:
    """
    A SKILL.md without frontmatter is all instructions, with no description.
    """
    root = write_project(tmp_path / "project")
    write_agent(root, "plain", skill="\n# Title\n\nBody text.\n\n")
    agent = load_project(root).agent("plain")
    assert agent.description == ""
    assert agent.instructions == "# Title\n\nBody text."


def test_bad_frontmatter_yaml(tmp_path: Path) -> None:
    """
    Frontmatter that is not YAML is an error naming SKILL.md and its line.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "dev", skill="---\ndescription: ok\nname: a: b\n---\nBody\n")
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("agents/dev/SKILL.md", "frontmatter")
    assert message.startswith("invalid YAML at line 3, column 8: mapping values")


def test_unclosed_frontmatter(tmp_path: Path) -> None:
    """
    Frontmatter without its closing ``---`` line is an error.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "dev", skill="---\ndescription: ok\n\nBody\n")
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("agents/dev/SKILL.md", "frontmatter")
    assert "closes the frontmatter" in message


def test_frontmatter_not_a_mapping(tmp_path: Path) -> None:
    """
    Frontmatter that is YAML but not ``key: value`` lines is an error.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "dev", skill="---\n- a\n- b\n---\nBody\n")
    _, field, message = only_issue(load_errors(root))
    assert field == "frontmatter"
    assert message.startswith("got a list (expected YAML `key: value` lines")


def test_frontmatter_wrong_type(tmp_path: Path) -> None:
    """
    A frontmatter field of the wrong type names the dotted field in SKILL.md.
    """
    root = write_project(tmp_path / "p")
    write_agent(root, "dev", skill="---\ncompatibility: 0.5\n---\nBody\n")
    assert only_issue(load_errors(root)) == (
        "agents/dev/SKILL.md",
        "frontmatter.compatibility",
        "got 0.5 (expected a string)",
    )


def test_undecodable_skill(tmp_path: Path) -> None:
    """
    A SKILL.md that is not UTF-8 is an error naming the file.
    """
    root = write_project(tmp_path / "p")
    directory = write_agent(root, "dev")
    (directory / "SKILL.md").write_bytes(b"\xff\xfe bad")
    file, field, message = only_issue(load_errors(root))
    assert (file, field) == ("agents/dev/SKILL.md", "(file)")
    assert "not UTF-8" in message
