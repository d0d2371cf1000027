"""
A real gateway for the gateway tests: the whole service from
``makeService``, listening on 127.0.0.1 with an ephemeral port, with a
``task.Clock`` for every timeout, driven over HTTP with treq.

Each request goes on a fresh connection through a fresh client, so no cookie
or connection is carried from one request to the next unless the test sends
it itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import treq
from attrs import frozen
from twisted.application.service import MultiService
from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.logger import ILogObserver, LogEvent, formatEvent
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.http_headers import Headers
from zope.interface import implementer

from action_llama.config import load_project
from action_llama.credentials import CredentialStore
from action_llama.gateway.sessions import Sessions
from action_llama.service import ServiceOptions, makeService

KEY_PATH = "~/.action-llama/credentials/gateway_api_key/default/key"

#: The session cookie as the gateway sets it, the id captured.
SESSION_COOKIE_RE = re.compile(
    r"al_session=([A-Za-z0-9_-]{43}); HttpOnly; SameSite=Strict; Path=/(; Secure)?"
)

#: Routes behind the auth wrapper, by method, whose answer to an
#: authenticated request is 200 and changes nothing that the other checks
#: depend on.
PROTECTED = [
    ("GET", "/control/status"),
    ("POST", "/control/pause"),
    ("POST", "/control/resume"),
    ("POST", "/control/agents/heartbeat/disable"),
    ("POST", "/control/agents/heartbeat/enable"),
    ("GET", "/locks/status"),
    ("POST", "/api/auth/link"),
]


@frozen
class Answer:
    """
    A response, read whole.
    """

    code: int
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        """
        The one value of header ``name``, or ``None`` if it is absent.
        """
        values = self.headers.getRawHeaders(name)
        if values is None:
            return None
        assert len(values) == 1, f"{name} sent {len(values)} times"
        return str(values[0])

    def json(self) -> Any:
        """
        The body decoded as JSON.
        """
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """
        The body as text.
        """
        return self.body.decode("utf-8")

    def session(self, secure: bool = False) -> str:
        """
        The session id the answer sets, checking the cookie's attributes.

        :param secure: whether the cookie must be ``Secure``, or must not.
        """
        cookie = self.header("set-cookie")
        assert cookie is not None, f"no cookie set: {self.code} {self.text}"
        match = SESSION_COOKIE_RE.fullmatch(cookie)
        assert match, cookie
        assert bool(match.group(2)) == secure, cookie
        return match.group(1)


class Gateway:
    """
    A started service, its clock, and what a test needs to talk to it.

    :ivar keys_used: every API key the service has had, for the check that
        none of them reached a log file.
    """

    def __init__(
        self, service: MultiService, base: str, clock: Clock, root: Path
    ) -> None:
        self.service = service
        self.base = base
        self.clock = clock
        self.root = root
        self.keys_used = [self.key]

    @property
    def key(self) -> str:
        """
        The current API key.
        """
        key = CredentialStore().gateway_key()
        assert key is not None
        return key

    @property
    def host(self) -> str:
        """
        The ``host:port`` the gateway is reached at.
        """
        return self.base.removeprefix("http://")

    @property
    def sessions(self) -> Sessions:
        """
        The service's login sessions.
        """
        sessions = self.service.getServiceNamed("sessions")
        assert isinstance(sessions, Sessions)
        return sessions

    def rotate_key(self) -> str:
        """
        Replace the API key in the credential store, as ``al doctor
        --regenerate-key`` does.
        """
        key = CredentialStore().regenerate_gateway_key()
        self.keys_used.append(key)
        return key

    async def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        cookie: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Answer:
        """
        Send one request and read the whole answer; redirects are not
        followed.

        :param key: sent as ``Authorization: Bearer``.
        :param cookie: sent as the ``al_session`` cookie.
        :param kwargs: passed to treq (``data``, ``json``).
        """
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        if cookie is not None:
            sent["Cookie"] = f"al_session={cookie}"
        pool = HTTPConnectionPool(reactor, persistent=False)
        client = treq.client.HTTPClient(Agent(reactor, pool=pool))
        response = await client.request(
            method,
            self.base + path,
            headers=Headers({name: [value] for name, value in sent.items()}),
            allow_redirects=False,
            **kwargs,
        )
        body = await response.content()
        return Answer(response.code, response.headers, body)

    async def log_in(self) -> str:
        """
        Log in with the key through the JSON route.

        :returns: the new session id.
        """
        answer = await self.request("POST", "/api/auth/login", json={"key": self.key})
        assert answer.code == 200, answer.text
        return answer.session()

    async def issue_link(self) -> str:
        """
        Ask for a one-time login link with the key.

        :returns: the link's path and query.
        """
        answer = await self.request("POST", "/api/auth/link", key=self.key)
        assert answer.code == 200, answer.text
        url = answer.json()["url"]
        assert isinstance(url, str) and url.startswith(self.base + "/login?token=")
        return url.removeprefix(self.base)

    async def stop(self) -> None:
        """
        Stop the service.
        """
        await self.service.stopService()


async def start_gateway(
    root: Path,
    clock: Clock,
    *,
    expose: bool = False,
    web_ui: bool = False,
    log_requests: bool = False,
) -> Gateway:
    """
    Start the service on the project at ``root``, with ``clock`` for time,
    and wait until it listens.
    """
    options = ServiceOptions(
        load_project(root),
        port=0,
        web_ui=web_ui,
        expose=expose,
        log_requests=log_requests,
    )
    service = makeService(options, reactor, clock=clock)
    service.startService()
    port = await service.getServiceNamed("gateway").when_listening()
    return Gateway(service, f"http://127.0.0.1:{port.getHost().port}", clock, root)


def assert_no_key_in_logs(root: Path, keys: list[str]) -> None:
    """
    No file under the project's log directory holds any of ``keys``.
    """
    files = [path for path in (root / ".al" / "logs").rglob("*") if path.is_file()]
    assert files, "the service wrote no log file"
    for path in files:
        text = path.read_text("utf-8", "replace")
        for key in keys:
            assert key not in text, f"the API key is in {path}"


@implementer(ILogObserver)
class LogWatch:
    """
    A log observer that keeps every event as text, and can wait for one.

    Add it to ``globalLogPublisher`` for the time it should watch.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._waiting: list[tuple[str, Deferred[str]]] = []

    def __call__(self, event: LogEvent) -> None:
        line = formatEvent(event)
        self.lines.append(line)
        for waiter in list(self._waiting):
            text, d = waiter
            if text in line:
                self._waiting.remove(waiter)
                d.callback(line)

    def wait_for(self, text: str, timeout: float = 10.0) -> Deferred[str]:
        """
        Fire with the first line, logged so far or to come, that holds
        ``text``; fail after ``timeout`` seconds without one.
        """
        for line in self.lines:
            if text in line:
                return succeed(line)
        d: Deferred[str] = Deferred()
        self._waiting.append((text, d))
        d.addTimeout(timeout, reactor)
        return d
