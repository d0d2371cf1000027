"""
The whole service as one ``MultiService``: used by ``al start`` and by the
twistd plugin alike, so both start, run and stop the same way.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from attrs import frozen
from twisted.application.service import MultiService, Service
from twisted.internet.address import IPv4Address
from twisted.internet.defer import (
    Deferred,
    ensureDeferred,
    maybeDeferred,
    succeed,
)
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort, IReactorTCP, IReactorTime
from twisted.logger import Logger, globalLogPublisher
from twisted.python.failure import Failure

from .checks import missing_credentials
from .config import ProjectConfig
from .credentials import CredentialStore
from .events import EventHub
from .gateway import GatewaySite, build_root
from .gateway.auth import Authenticator, KeyWatcher
from .gateway.login import Login, LoginThrottle, link_url
from .gateway.sessions import LoginLinks, Sessions
from .gateway.sse import LogStream, StatusStream
from .gateway.webhooks import WebhookReceiver
from .locks import LockTable
from .logs import AgentLogs
from .observers import DailyJSONFileObserver
from .once import Once
from .retention import RetentionService
from .runtime import ProcessRuntime
from .scheduler import Scheduler
from .store import Database, Store
from .store._receipts import ReceiptStore

log = Logger(namespace="action_llama.service")


@frozen
class ServiceOptions:
    """
    How to run the service, from the command line or the twistd options.

    :ivar project: the loaded, validated project.
    :ivar port: the gateway port; ``None`` takes ``[gateway].port``.
    :ivar web_ui: serve the dashboard.
    :ivar expose: listen on every interface instead of 127.0.0.1 only.
    :ivar log_requests: log every HTTP request at debug level.
    """

    project: ProjectConfig
    port: int | None = None
    web_ui: bool = False
    expose: bool = False
    log_requests: bool = False

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


class SequentialMultiService(MultiService):
    """
    A ``MultiService`` that stops its children one at a time, last started
    first, each after the one before has finished stopping: the gateway
    stops taking requests, then runs finish and are recorded, then the
    database closes.
    """

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        return ensureDeferred(self._stop_in_turn())

    async def _stop_in_turn(self) -> None:
        for service in reversed(list(self)):
            with log.failuresHandled(
                "Stopping {service} failed", service=service.name or service
            ):
                await maybeDeferred(service.stopService)


class ProjectInUse(Exception):
    """
    Another action-llama service already runs this project.
    """


class StoreService(Service):
    """
    Takes the project's lock file, then opens the project database on start;
    closes both on stop. The lock makes a second service on the same project
    fail at once instead of fighting the first over runs and queue.
    """

    def __init__(self, db: Database, lock_path: Path) -> None:
        self.db = db
        self._lock_path = lock_path
        self._lock_file: IO[str] | None = None
        self._ready: Once[None] = Once()

    def when_ready(self) -> Deferred[None]:
        """
        A Deferred that fires once the database is open and migrated, or
        fails with the reason it could not be (`ProjectInUse` among them).
        """
        return self._ready.wait()

    def startService(self) -> None:
        super().startService()
        try:
            self._lock()
        except ProjectInUse:
            self._ready.settle(Failure())
            return
        self._ready.follow(self.db.start())

    def _lock(self) -> None:
        """
        Take the project lock, writing our pid into the file.

        :raises ProjectInUse: if another process holds it.
        """
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self._lock_path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise ProjectInUse(
                f"another action-llama service (pid {holder}) is running this "
                f"project; stop it first ({self._lock_path})"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_file = handle

    def stopService(self) -> Deferred[None]:
        super().stopService()
        if self._lock_file is None:
            return succeed(None)
        return self.db.close().addBoth(self._unlock)

    def _unlock(self, result: Any) -> Any:
        assert self._lock_file is not None
        self._lock_file.close()
        self._lock_file = None
        return result


class StreamService(Service):
    """
    Runs the status stream's fan-out while the service runs, and ends every
    client's stream, status and logs, on stop.
    """

    def __init__(self, status: StatusStream, logs: LogStream) -> None:
        self.status = status
        self.logs = logs

    def startService(self) -> None:
        super().startService()
        self.status.start()

    def stopService(self) -> None:
        super().stopService()
        self.status.stop()
        self.logs.stop()


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

    :param after: gives a Deferred to wait for before listening (the
        scheduler's start-up), so that the first request already finds the
        database open and the state rebuilt.
    """

    def __init__(
        self,
        reactor: IReactorTCP,
        site: GatewaySite,
        port: int,
        interface: str,
        after: Callable[[], Deferred[Any]] | None = None,
    ) -> None:
        self._endpoint = TCP4ServerEndpoint(reactor, port, interface=interface)
        self._after = after
        self._site = site
        self._port: IListeningPort | None = None
        self._listening: Once[IListeningPort] = Once()

    def when_listening(self) -> Deferred[IListeningPort]:
        """
        A new Deferred that fires with the listening port once it is bound,
        or fails with the reason it could not be.
        """
        return self._listening.wait()

    def startService(self) -> None:
        super().startService()
        ready = self._after() if self._after is not None else succeed(None)
        listening: Deferred[IListeningPort] = ready.addCallback(
            lambda _: self._listen()
        )
        self._listening.follow(listening)

    def _listen(self) -> Deferred[IListeningPort]:
        if not self.running:
            raise RuntimeError("the gateway was stopped before it could listen")
        listening: Deferred[IListeningPort] = self._endpoint.listen(self._site)
        return listening.addCallback(self._bound)

    def _bound(self, port: IListeningPort) -> IListeningPort:
        self._port = port
        return port

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
        shown = [agent.name for agent in project.agents[:10]]
        more = len(project.agents) - len(shown)
        names = ", ".join(shown) + (f" and {more} more" if more else "") or "none"
        log.info(
            "{count} agent(s) found: {names}", count=len(project.agents), names=names
        )
        for warning in project.warnings:
            log.warn("Config warning: {warning}", warning=str(warning))
        for need in missing_credentials(project, CredentialStore()):
            log.warn(
                "Credential {ref} is missing (needed by {who}); add it with "
                "`al creds add {ref}`",
                ref=need.ref,
                who=", ".join(need.needed_by),
            )
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
        url = f"http://{shown}:{_port_number(port)}"
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


def database_path(project: ProjectConfig) -> Path:
    """
    Where the project's database lives.
    """
    return project.state_dir / "action-llama.db"


def lock_path(project: ProjectConfig) -> Path:
    """
    The lock file that one service (or one ``al run``) per project holds.
    """
    return project.state_dir / "service.lock"


@frozen
class Core:
    """
    The parts every way of running agents shares: the database behind the
    project lock, the event hub, the agents' logs, and the scheduler.

    ``al start`` adds the gateway, streams, sessions and retention around
    it; ``al run`` serves only the run routes and never starts the
    scheduler service itself (no cron, no queue drain).
    """

    db: Database
    store: StoreService
    events: EventHub
    logs: AgentLogs
    scheduler: Scheduler


def build_core(
    project: ProjectConfig,
    reactor: Any,
    credentials: CredentialStore,
    clock: IReactorTime,
    gateway_url: str = "",
) -> Core:
    """
    Build the shared parts for ``project``; nothing starts until their
    services are started.

    :param gateway_url: where runs reach the gateway, if already known.
    """
    db = Database(str(database_path(project)), reactor)
    store_service = StoreService(db, lock_path(project))
    store_service.setName("store")
    events = EventHub()
    logs = AgentLogs(project.state_dir / "logs", events, clock)
    scheduler = Scheduler(
        project,
        Store(db),
        ProcessRuntime(reactor, project.state_dir, credentials),
        clock,
        events,
        logs,
        LockTable(clock, project.resource_lock_timeout),
        gateway_url=gateway_url,
        store_ready=store_service.when_ready,
    )
    scheduler.setName("scheduler")
    return Core(db, store_service, events, logs, scheduler)


def makeService(
    options: ServiceOptions,
    reactor: Any = None,
    credentials: CredentialStore | None = None,
    clock: IReactorTime | None = None,
) -> MultiService:
    """
    Build the service for a validated project.

    :param options: what to run and how.
    :param reactor: provides time and TCP; the global reactor if ``None``.
    :param credentials: the credential store; the one under ``$HOME`` if
        ``None``. The gateway API key is created here when missing.
    :param clock: the source of time for the scheduler, the gateway and the
        sessions; ``reactor`` if ``None`` (tests pass a ``task.Clock``).
    """
    if reactor is None:
        from twisted.internet import reactor as global_reactor

        reactor = global_reactor
    if clock is None:
        clock = reactor
    credentials = credentials or CredentialStore()
    project = options.project

    _, created = credentials.ensure_gateway_key()
    if created:
        log.info(
            "Created the gateway API key at {path}",
            path=str(credentials.gateway_key_path()),
        )

    top = SequentialMultiService()
    ProjectLogService(project.state_dir / "logs").setServiceParent(top)
    core = build_core(
        project,
        reactor,
        credentials,
        clock,
        gateway_url=f"http://127.0.0.1:{options.gateway_port}",
    )
    db, scheduler = core.db, core.scheduler
    core.store.setServiceParent(top)
    scheduler.setServiceParent(top)
    receipts = ReceiptStore(db)
    RetentionService(
        clock,
        Store(db),
        receipts,
        project.state_dir / "runs",
        project.history_retention_days,
    ).setServiceParent(top)
    # The sessions name the key they were made under, and a new key ends
    # them: each refers to the other, so the key is reached late here.
    sessions = Sessions(Store(db), clock, lambda: keys.key_id(), core.store.when_ready)
    sessions.setName("sessions")
    sessions.setServiceParent(top)
    keys = KeyWatcher(credentials, on_rotate=sessions.end_all)
    auth = Authenticator(keys, sessions.lookup, sessions.loading)
    links = LoginLinks(Store(db), clock, keys.key_id, sessions.when_loaded)
    login = Login(keys, sessions, links, LoginThrottle(clock), options.expose)
    status = StatusStream(
        clock,
        scheduler.snapshot,
        lambda callback: core.events.subscribe("state", callback),
        subscribe_logs=lambda callback: core.events.subscribe("log", callback),
    )
    logs = LogStream(
        clock,
        core.logs.tail,
        lambda callback: core.events.subscribe("log", callback),
    )
    StreamService(status, logs).setServiceParent(top)
    webhooks = WebhookReceiver(project, credentials, receipts, scheduler)
    scheduler.ready.addCallback(
        lambda _: ensureDeferred(
            webhooks.dispatch_lost(
                clock.seconds() - project.history_retention_days * 86400
            )
        )
    ).addErrback(
        lambda failure: log.failure(
            "Could not dispatch the webhooks left undispatched", failure
        )
    )
    site = GatewaySite(
        build_root(clock, scheduler, auth, reactor.stop, status, logs, webhooks, login),
        log_requests=options.log_requests,
    )
    gateway = GatewayService(
        reactor,
        site,
        options.gateway_port,
        options.interface,
        after=lambda: scheduler.ready,
    )
    gateway.setName("gateway")
    gateway.when_listening().addCallback(_tell_runs_the_port, scheduler)
    gateway.when_listening().addCallback(_release_free_memory)
    if options.web_ui:
        gateway.when_listening().addCallback(_log_login_link, links)
    _StartupReport(options, gateway).setServiceParent(top)
    gateway.setServiceParent(top)
    return top


def _port_number(port: IListeningPort) -> int:
    """
    The TCP port number a listening port is bound to.
    """
    address = port.getHost()
    assert isinstance(address, IPv4Address)
    return address.port


def _release_free_memory(port: IListeningPort) -> IListeningPort:
    """
    Hand the memory that loading the project freed back to the system.

    Reading hundreds of agents' files leaves freed blocks inside the C
    allocator, which glibc keeps unless asked; a long-running service
    should not carry them. Elsewhere than glibc this does nothing.
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return port


def _tell_runs_the_port(port: IListeningPort, scheduler: Scheduler) -> None:
    """
    Runs reach the gateway on loopback at the port actually bound (which
    differs from the configured one when that is 0).
    """
    scheduler.gateway_url = f"http://127.0.0.1:{_port_number(port)}"


def _log_login_link(port: IListeningPort, links: LoginLinks) -> None:
    """
    Log a one-time link that logs a browser in to the dashboard, so the
    person who started the service can open it without pasting the key.
    """
    address = port.getHost()
    assert isinstance(address, IPv4Address)
    base = f"http://127.0.0.1:{address.port}"
    d = links.issue()
    d.addCallback(
        lambda token: log.info(
            "Dashboard login link (single use, {minutes} minutes): {url}",
            minutes=round(links.lifetime / 60),
            url=link_url(base, token),
            console_only=True,
        )
    )
    d.addErrback(
        lambda failure: log.failure("Could not issue a dashboard login link", failure)
    )
