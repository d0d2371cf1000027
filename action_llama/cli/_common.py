"""
What every ``al`` command shares: the project option, loading the project
with errors a person can act on, one-line errors and exit codes, and running
a command's asynchronous part under ``task.react``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn

import click
from twisted.internet import task

from ..config import ConfigError, ProjectConfig, load_project

#: Exit code for a project that does not validate.
EXIT_CONFIG = 2


class CLIError(click.ClickException):
    """
    A failure the user can act on: shown as one line on standard error, and
    the command exits with code 1.
    """


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


def run_async(main: Callable[[Any], Coroutine[Any, Any, int]]) -> NoReturn:
    """
    Run ``main(reactor)`` under ``task.react`` and exit with the code it
    returns.

    A `click.ClickException` (such as `CLIError`) is shown as its one line
    and ends the command with its exit code. Anything else unexpected is
    shown as one line too, with exit code 1: the user never sees a
    traceback.
    """

    async def guarded(reactor: Any) -> None:
        try:
            code = await main(reactor)
        except click.ClickException as e:
            e.show()
            code = e.exit_code
        except Exception as e:
            click.echo(f"Error: unexpected {type(e).__name__}: {e}", err=True)
            code = 1
        raise SystemExit(code)

    task.react(guarded)


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
