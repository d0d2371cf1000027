"""
Support for the tests of the ``al`` commands: a project of script agents,
the service of it started in this process, and ``al`` run as a real child
process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import treq
from attrs import frozen
from twisted.application.service import MultiService
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ServerFactory
from twisted.internet.utils import getProcessOutputAndValue

from action_llama.credentials import CredentialStore
from action_llama.scheduler import Scheduler
from action_llama.store import RunRecord

#: A schedule that fires once a year, so no cron run disturbs a test.
YEARLY = "0 0 1 1 *"

#: The pre-hooks of the test project's agents.
AGENTS: dict[str, list[str]] = {
    "hello": ["echo hello from $AL_AGENT", 'al-status "saying hello"'],
    "failing": ["echo about to fail", "exit 3"],
    "sleeper": ["sleep 30"],
}

#: Seconds an ``al`` command may take before its test fails.
COMMAND_TIMEOUT = 60.0


def write_project(root: Path, port: int) -> Path:
    """
    Write a project of the script agents in `AGENTS`, its gateway on
    ``port``.
    """
    for name, hooks in AGENTS.items():
        directory = root / "agents" / name
        directory.mkdir(parents=True)
        (directory / "SKILL.md").write_text(f"---\ndescription: {name}\n---\n")
        (directory / "config.toml").write_text(
            f'schedule = "{YEARLY}"\ntimeout = 60\n[hooks]\npre = {json.dumps(hooks)}\n'
        )
    set_port(root, port)
    return root


def set_port(root: Path, port: int) -> None:
    """
    Make ``port`` the project's ``[gateway].port``, as ``al`` reads it.
    """
    (root / "config.toml").write_text(f"[gateway]\nport = {port}\n")


async def closed_port() -> int:
    """
    A port of 127.0.0.1 that nothing listens on (it just stopped).
    """
    listening = reactor.listenTCP(0, ServerFactory(), interface="127.0.0.1")
    address = listening.getHost()
    assert isinstance(address, IPv4Address)
    stopped = listening.stopListening()
    assert stopped is not None
    await stopped
    return address.port


@frozen
class Result:
    """
    How an ``al`` command ended.

    :ivar code: its exit code.
    :ivar out: what it wrote to standard output.
    :ivar err: what it wrote to standard error.
    """

    code: int
    out: str
    err: str


async def al(*args: str, env: Mapping[str, str] | None = None) -> Result:
    """
    Run ``al`` with ``args`` as a child process, in this test's environment
    (with ``env`` on top), and wait for it to end.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    d: Deferred[tuple[bytes, bytes, int]] = getProcessOutputAndValue(
        sys.executable, ["-m", "action_llama", *args], env=full_env
    )
    out, err, code = await d.addTimeout(COMMAND_TIMEOUT, reactor)
    return Result(code, out.decode("utf-8"), err.decode("utf-8"))


def one_line_error(result: Result) -> str:
    """
    The single line a failed command wrote to standard error; fails the
    test if there is more, or a traceback.
    """
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    return lines[0]


def log_record(message: str, instance: str | None = None, **fields: Any) -> str:
    """
    One JSON line of an agent's log, stamped now.
    """
    ts = time.time()
    record = {"ts": ts, "level": "info", "instance": instance, "message": message}
    return json.dumps({**record, **fields}) + "\n"


async def ready(scheduler: Scheduler) -> None:
    """
    Wait until ``scheduler`` has started (and so its store is open).
    """
    waiter: Deferred[None] = Deferred()
    scheduler.ready.addCallback(_tell, waiter)
    await waiter.addTimeout(COMMAND_TIMEOUT, reactor)


@frozen
class Live:
    """
    The project's service, running in this process.

    :ivar root: the project directory.
    :ivar url: the gateway's base URL.
    :ivar service: the whole service.
    """

    root: Path
    url: str
    service: MultiService

    @property
    def scheduler(self) -> Scheduler:
        """
        The service's scheduler.
        """
        scheduler: Scheduler = self.service.getServiceNamed("scheduler")
        return scheduler

    async def call(self, method: str, path: str) -> dict[str, Any]:
        """
        Send a control request with the API key and give its JSON body.
        """
        key = CredentialStore().gateway_key()
        headers: dict[str | bytes, str | bytes] = {"Authorization": f"Bearer {key}"}
        response = await treq.request(method, self.url + path, headers=headers)
        body: dict[str, Any] = await response.json()
        assert response.code == 200, body
        return body

    async def status(self) -> dict[str, Any]:
        """
        The status snapshot from ``GET /control/status``.
        """
        return await self.call("GET", "/control/status")

    async def agent(self, name: str) -> dict[str, Any]:
        """
        One agent's entry in the status snapshot.
        """
        status = await self.status()
        [entry] = [a for a in status["agents"] if a["name"] == name]
        return dict(entry)

    async def start(self, agent: str) -> str:
        """
        Trigger ``agent`` through the control API and give the instance id.
        """
        body = await self.call("POST", f"/control/trigger/{agent}")
        instance_id: str = body["instanceId"]
        return instance_id

    async def ended(self, instance_id: str) -> RunRecord:
        """
        Wait until the run ``instance_id`` has ended and been recorded.
        """
        instance = self.scheduler.instance(instance_id)
        if instance is not None and instance.ended is not None:
            waiter: Deferred[None] = Deferred()
            instance.ended.addCallback(_tell, waiter)
            await waiter.addTimeout(COMMAND_TIMEOUT, reactor)
        run = await self.scheduler.store.get_run(instance_id)
        assert run is not None
        return run


def _tell(result: None, waiter: Deferred[None]) -> None:
    """
    Fire ``waiter`` from the service's own Deferred, leaving that untouched.
    """
    waiter.callback(None)
