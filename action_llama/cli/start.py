"""
``al start``: the scheduler and gateway in the foreground.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from twisted.logger import LogLevel, globalLogBeginner

from ..observers import ConsoleObserver
from ..service import ServiceOptions, makeService
from ._common import load_or_exit, project_option, project_root


@click.command()
@project_option
@click.option("-w", "--web-ui", is_flag=True, help="Serve the web dashboard.")
@click.option(
    "-e", "--expose", is_flag=True, help="Listen on every interface, not 127.0.0.1."
)
@click.option(
    "-H",
    "--headless",
    is_flag=True,
    help="For supervisors such as systemd; accepted for compatibility, since "
    "the output is always plain log lines.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Gateway port ([gateway].port); 0 picks a free one.",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Show debug events, every request among them."
)
@click.pass_context
def start(
    ctx: click.Context,
    web_ui: bool,
    expose: bool,
    headless: bool,
    port: int | None,
    verbose: bool,
) -> None:
    """
    Start the scheduler and the gateway in the foreground.

    SIGINT or SIGTERM stops them gracefully.
    """
    project = load_or_exit(project_root(ctx))
    from twisted.internet import reactor

    min_level = LogLevel.debug if verbose else LogLevel.info
    globalLogBeginner.beginLoggingTo(
        [ConsoleObserver(sys.stdout, min_level)], redirectStandardIO=False
    )
    options = ServiceOptions(
        project, port=port, web_ui=web_ui, expose=expose, log_requests=verbose
    )
    service = makeService(options, reactor)
    exit_code = [0]

    def failed(failure: Any) -> None:
        exit_code[0] = 1
        if reactor.running:
            reactor.stop()

    service.getServiceNamed("gateway").when_listening().addErrback(failed)
    service.getServiceNamed("scheduler").ready.addErrback(failed)
    reactor.callWhenRunning(service.startService)
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()
    sys.exit(exit_code[0])
