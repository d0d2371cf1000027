"""
Entry point of the ``al`` command: the group, its global options, and the
sub-commands, each imported from its module only when it is used (so
``al start`` carries none of the client code of the other commands).
"""

from __future__ import annotations

import importlib

import click

from .. import __version__
from ._common import project_option

#: Each sub-command: its name, and the module and attribute that define it.
COMMANDS: dict[str, tuple[str, str]] = {
    "start": ("start", "start"),
    "stop": ("control", "stop"),
    "stat": ("status", "stat"),
    "pause": ("control", "pause"),
    "resume": ("control", "resume"),
    "kill": ("control", "kill"),
    "run": ("run", "run"),
    "logs": ("logs", "logs"),
    "stats": ("stats", "stats"),
    "doctor": ("doctor", "doctor"),
    "creds": ("creds", "creds"),
    "dashboard": ("dashboard", "dashboard"),
    "webhook": ("webhook", "webhook"),
}


class LazyGroup(click.Group):
    """
    A group whose sub-commands are imported when they are looked up.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name]
        command = getattr(importlib.import_module(f".{module}", __package__), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@project_option
@click.version_option(__version__, prog_name="al")
def cli() -> None:
    """
    Run and control action-llama agents.

    Commands that talk to the running gateway find it at
    http://127.0.0.1:<[gateway].port of the project>; set AL_GATEWAY_URL
    (such as http://127.0.0.1:8181) to reach one started with another
    --port.
    """


def main() -> None:
    """
    Run the ``al`` command line.
    """
    cli(obj={}, prog_name="al")
