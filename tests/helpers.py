"""
Helpers shared by the tests: example projects, and child processes whose
output can be awaited line by line.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from twisted.internet import protocol
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.python.failure import Failure

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "examples" / "quickstart"
FIXTURE = REPO.parent / "shared" / "fixtures" / "existing-project"


def copy_project(source: Path, target: Path) -> Path:
    """
    Copy a project directory to ``target`` so a test may change or start it.
    """
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".al"))
    return target


def al_argv(*args: str) -> list[str]:
    """
    The argv that runs ``al`` with this interpreter.
    """
    return [sys.executable, "-m", "action_llama", *args]


def twistd_argv(*args: str) -> list[str]:
    """
    The argv that runs ``twistd`` with this interpreter.
    """
    return [
        sys.executable,
        "-c",
        "from twisted.scripts.twistd import run; run()",
        *args,
    ]


class WatchedProcess(protocol.ProcessProtocol):
    """
    A child process whose output lines can be awaited.

    ``ended`` fires with the exit code when the process has gone.
    """

    def __init__(self) -> None:
        self.output = ""
        self.ended: Deferred[int] = Deferred()
        self._waiters: list[tuple[re.Pattern[str], Deferred[re.Match[str]]]] = []

    def outReceived(self, data: bytes) -> None:
        self._received(data)

    def errReceived(self, data: bytes) -> None:
        self._received(data)

    def _received(self, data: bytes) -> None:
        self.output += data.decode("utf-8", "replace")
        for waiter in list(self._waiters):
            pattern, d = waiter
            match = pattern.search(self.output)
            if match:
                self._waiters.remove(waiter)
                d.callback(match)

    def wait_for(
        self, pattern: str, clock: IReactorTime, timeout: float = 20
    ) -> Deferred[re.Match[str]]:
        """
        Fire with the first match of ``pattern`` in the output so far or to
        come; fail if the process ends first or ``timeout`` passes.
        """
        compiled = re.compile(pattern)
        match = compiled.search(self.output)
        d: Deferred[re.Match[str]] = Deferred()
        if match:
            d.callback(match)
            return d
        self._waiters.append((compiled, d))
        timer = clock.callLater(timeout, self._give_up, compiled, d, "timed out")
        d.addBoth(_cancel_timer, timer)
        return d

    def _give_up(self, pattern: re.Pattern[str], d: Deferred[Any], why: str) -> None:
        if (pattern, d) in self._waiters:
            self._waiters.remove((pattern, d))
            d.errback(
                AssertionError(f"{why} waiting for {pattern.pattern!r}:\n{self.output}")
            )

    def processEnded(self, reason: Failure) -> None:
        for pattern, d in list(self._waiters):
            self._give_up(pattern, d, "process ended")
        self.ended.callback(reason.value.exitCode)

    def signal(self, name: str) -> None:
        """
        Send a signal (``"TERM"``, ``"INT"``, ``"KILL"``) to the process.
        """
        assert self.transport is not None
        self.transport.signalProcess(name)


def _cancel_timer(result: Any, timer: Any) -> Any:
    if timer.active():
        timer.cancel()
    return result


def spawn(
    reactor: IReactorProcess,
    argv: list[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> WatchedProcess:
    """
    Start ``argv`` with this test's environment (and ``env`` on top).
    """
    watched = WatchedProcess()
    full_env = dict(os.environ)
    full_env.update(env or {})
    reactor.spawnProcess(
        watched, argv[0], argv, env=full_env, path=str(cwd) if cwd else None
    )
    return watched
