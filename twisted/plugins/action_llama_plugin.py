"""
The twistd dropin: ``twistd -n action-llama --project DIR``.

twistd imports every dropin when it starts, so this file imports nothing of
action-llama until the service is made.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import IServiceMaker
from twisted.plugin import IPlugin
from twisted.python import usage
from zope.interface import implementer


class Options(usage.Options):
    """
    Command-line options of the ``action-llama`` twistd plugin.
    """

    optParameters = [
        ["project", "p", ".", "The project directory."],
        ["port", None, None, "Gateway port (default: [gateway].port).", int],
    ]
    optFlags = [
        ["web-ui", "w", "Serve the web dashboard."],
        ["expose", "e", "Listen on every interface instead of 127.0.0.1."],
    ]


@implementer(IServiceMaker, IPlugin)
class ActionLlamaServiceMaker:
    """
    Makes the action-llama service for twistd.
    """

    tapname = "action-llama"
    description = "Run action-llama agents with their gateway."
    options = Options

    def makeService(self, options: Options) -> Any:
        """
        Validate the project and build the service, or exit with code 2 and
        every config error on standard error.
        """
        import sys
        from pathlib import Path

        from action_llama.config import ConfigError, load_project
        from action_llama.service import ServiceOptions, makeService

        root = Path(options["project"])
        try:
            project = load_project(root)
        except ConfigError as e:
            print(
                f"The project at {root.resolve()} has config errors:", file=sys.stderr
            )
            for issue in e.issues:
                print(f"  {issue}", file=sys.stderr)
            raise SystemExit(2) from None
        return makeService(
            ServiceOptions(
                project,
                port=options["port"],
                web_ui=bool(options["web-ui"]),
                expose=bool(options["expose"]),
            )
        )


service_maker = ActionLlamaServiceMaker()
