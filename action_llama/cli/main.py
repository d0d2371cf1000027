"""
Entry point of the ``al`` command: the group, its global options, and the
sub-commands gathered from their modules.
"""

from __future__ import annotations

import click

from .. import __version__
from ._common import project_option
from .creds import creds
from .doctor import doctor
from .start import start


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@project_option
@click.version_option(__version__, prog_name="al")
def cli() -> None:
    """
    Run and control action-llama agents.
    """


cli.add_command(start)
cli.add_command(doctor)
cli.add_command(creds)


def main() -> None:
    """
    Run the ``al`` command line.
    """
    cli(obj={})
