"""
Entry point of the ``al`` command: the group, its global options, and the
sub-commands gathered from their modules.
"""

from __future__ import annotations

import click

from .. import __version__
from ._common import project_option
from .control import kill, pause, resume, stop
from .creds import creds
from .dashboard import dashboard
from .doctor import doctor
from .logs import logs
from .run import run
from .start import start
from .stats import stats
from .status import stat
from .webhook import webhook


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


for command in (
    start,
    stop,
    stat,
    pause,
    resume,
    kill,
    run,
    logs,
    stats,
    doctor,
    creds,
    dashboard,
    webhook,
):
    cli.add_command(command)


def main() -> None:
    """
    Run the ``al`` command line.
    """
    cli(obj={}, prog_name="al")
