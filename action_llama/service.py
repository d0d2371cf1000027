"""
The whole service as one ``MultiService``: used by ``al start`` and by the
twistd plugin alike, so both start, run and stop the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from attrs import frozen
from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort, IReactorTCP, IReactorTime
from twisted.logger import Logger, globalLogPublisher
from twisted.python.failure import Failure

from .config import ProjectConfig
from .credentials import CredentialStore
from .gateway import GatewaySite, build_root
from .observers import DailyJSONFileObserver

log = Logger(namespace="action_llama.service")


@frozen
class ServiceOptions:
    """
    How to run the service, from the command line or the twistd options.

    :ivar project: the loaded, validated project.
    :ivar port: the gateway port; ``None`` takes ``[gateway].port``.
    :ivar web_ui: serve the dashboard.
    :ivar expose: listen on every interface instead of 127.0.0.1 only.
    """

    project: ProjectConfig
    port: int | None = None
    web_ui: bool = False
    expose: bool = False

    @property
    def gateway_port(self) -> int:
        """
        The port the gateway listens on.
        """
        return self.port if self.port is not None else self.project.gateway.port

    @property
    def interface(self) -> str:
        """
        The address the gateway binds.
        """
        return "0.0.0.0" if self.expose else "127.0.0.1"


class ProjectLogService(Service):
    """
    Sends every log event to the project's daily JSON-lines scheduler log
    while the service runs.
    """

    def __init__(self, directory: Path) -> None:
        self.observer = DailyJSONFileObserver(directory, "scheduler")

    def startService(self) -> None:
        globalLogPublisher.addObserver(self.observer)
        super().startService()

    def stopService(self) -> None:
        super().stopService()
        globalLogPublisher.removeObserver(self.observer)
        self.observer.close()


class GatewayService(Service):
    """
    Listens for HTTP on the configured port and serves the gateway's tree.
    """

    def __init__(
        self, reactor: IReactorTCP, site: GatewaySite, port: int, interface: str
    ) -> None:
        self._endpoint = TCP4ServerEndpoint(reactor, port, interface=interface)
        self._site = site
        self._port: IListeningPort | None = None
        self._outcome: Failure | IListeningPort | None = None
        self._waiting: list[Deferred[IListeningPort]] = []

    def when_listening(self) -> Deferred[IListeningPort]:
        """
        A new Deferred that fires with the listening port once it is bound,
        or fails with the reason it could not be.
        """
        d: Deferred[IListeningPort] = Deferred()
        if self._outcome is None:
            self._waiting.append(d)
        elif isinstance(self._outcome, Failure):
            d.errback(self._outcome)
        else:
            d.callback(self._outcome)
        return d

    def startService(self) -> None:
        super().startService()
        self._endpoint.listen(self._site).addBoth(self._settled)

    def _settled(self, outcome: Failure | IListeningPort) -> None:
        self._outcome = outcome
        if not isinstance(outcome, Failure):
            self._port = outcome
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            if isinstance(outcome, Failure):
                d.errback(outcome)
            else:
                d.callback(outcome)

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        if self._port is None:
            return None
        port, self._port = self._port, None
        return port.stopListening()


class _StartupReport(Service):
    """
    Logs one readable line per fact about what is starting.
    """

    def __init__(self, options: ServiceOptions, gateway: GatewayService) -> None:
        self._options = options
        self._gateway = gateway

    def startService(self) -> None:
        super().startService()
        project = self._options.project
        log.info("Project {root}", root=str(project.root))
        names = ", ".join(agent.name for agent in project.agents) or "none"
        log.info(
            "{count} agent(s) found: {names}", count=len(project.agents), names=names
        )
        for warning in project.warnings:
            log.warn("Config warning: {warning}", warning=str(warning))
        if os.environ.get("AL_DASHBOARD_SECRET"):
            log.warn(
                "AL_DASHBOARD_SECRET is set but no longer used: the gateway now "
                "uses an API key. Remove the variable and run `al doctor` to set "
                "up the key."
            )
        self._gateway.when_listening().addCallbacks(
            self._report_urls, self._report_failure
        )

    def _report_urls(self, port: IListeningPort) -> IListeningPort:
        host = self._options.interface
        shown = "127.0.0.1" if host == "0.0.0.0" else host
        url = f"http://{shown}:{port.getHost().port}"
        log.info("Gateway listening on {url} (bound to {host})", url=url, host=host)
        if self._options.web_ui:
            log.info("Dashboard at {url}/dashboard", url=url)
        return port

    def _report_failure(self, failure: Failure) -> None:
        log.critical(
            "The gateway could not listen on {host}:{port}: {reason}",
            host=self._options.interface,
            port=self._options.gateway_port,
            reason=failure.getErrorMessage(),
        )


def makeService(
    options: ServiceOptions,
    reactor: Any = None,
    credentials: CredentialStore | None = None,
) -> MultiService:
    """
    Build the service for a validated project.

    :param options: what to run and how.
    :param reactor: provides time and TCP; the global reactor if ``None``.
    :param credentials: the credential store; the one under ``$HOME`` if
        ``None``. The gateway API key is created here when missing.
    """
    if reactor is None:
        from twisted.internet import reactor as global_reactor

        reactor = global_reactor
    clock: IReactorTime = reactor
    credentials = credentials or CredentialStore()
    project = options.project

    _, created = credentials.ensure_gateway_key()
    if created:
        log.info(
            "Created the gateway API key at {path}",
            path=str(credentials.gateway_key_path()),
        )

    top = MultiService()
    ProjectLogService(project.state_dir / "logs").setServiceParent(top)
    started_at = clock.seconds()
    root = build_root(clock, started_at, lambda: len(project.agents))
    site = GatewaySite(root)
    gateway = GatewayService(reactor, site, options.gateway_port, options.interface)
    gateway.setName("gateway")
    _StartupReport(options, gateway).setServiceParent(top)
    gateway.setServiceParent(top)
    return top
