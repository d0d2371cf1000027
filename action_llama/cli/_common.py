"""
What every ``al`` command shares: the project option, loading the project
with errors a person can act on, and exit codes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..config import ConfigError, ProjectConfig, load_project

#: Exit code for a project that does not validate.
EXIT_CONFIG = 2


def load_or_exit(root: Path, strict: bool = False) -> ProjectConfig:
    """
    Load the project at ``root``, or print every error and exit with code 2.
    """
    try:
        return load_project(root, strict=strict)
    except ConfigError as e:
        count = len(e.issues)
        click.echo(
            f"The project at {root.resolve()} has {count} config error(s):", err=True
        )
        for issue in e.issues:
            click.echo(f"  {issue}", err=True)
        sys.exit(EXIT_CONFIG)


def project_root(ctx: click.Context) -> Path:
    """
    The project directory given with ``-p/--project`` (``.`` by default).
    """
    root: Path = ctx.find_root().obj.get("project", Path("."))
    return root


def _remember_project(
    ctx: click.Context, param: click.Parameter, value: Path | None
) -> None:
    """
    Keep a ``-p`` given after the sub-command, where users usually put it.
    """
    if value is not None:
        ctx.find_root().ensure_object(dict)["project"] = value


#: ``-p/--project``, accepted both before and after the sub-command name
#: (``al -p DIR stat`` and ``al stat -p DIR``), as the original tool did.
project_option = click.option(
    "-p",
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    callback=_remember_project,
    expose_value=False,
    is_eager=True,
    help="The project directory (default: the current one).",
)
