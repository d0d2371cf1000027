"""
The ``bash`` tool: one command line per call, each in a fresh shell.

A call runs ``bash -c <command>`` in the run's work directory with the
environment hooks get (the run's, plus what ``setenv`` stored, with the agent
commands on ``PATH``), stdout and stderr merged and no stdin. It runs in a
thread, so the blocking wait stays off the reactor, and in a process group of
its own, so that a call over its timeout is killed together with everything
it started. What a call leaves running in the background (a server for the
next call to test, say) lives on until the session ends: `Bash.kill_all`
then ends every group the session created.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads, IReactorThreads
from twisted.internet.threads import deferToThreadPool

from ._conversation import ToolSpec

#: Seconds a call may take unless it asks for another timeout.
DEFAULT_TIMEOUT = 120

#: The longest timeout a call may ask for, in seconds.
MAX_TIMEOUT = 600

#: Characters of a call's output the model gets; the middle of a longer
#: output is cut out.
OUTPUT_LIMIT = 30_000

BASH_TOOL = ToolSpec(
    name="bash",
    description=(
        "Run one command line with bash in a fresh shell that starts in the"
        " working directory; stdout and stderr come back together, with the"
        " exit code when it is not 0. Shell state (cd, variables) does not"
        " carry over to the next call: use `setenv NAME value` for variables."
        f" Calls time out after {DEFAULT_TIMEOUT} s unless `timeout` says"
        f" otherwise (at most {MAX_TIMEOUT} s). Output over {OUTPUT_LIMIT}"
        " characters is cut in the middle, so filter long output."
    ),
    parameters={
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command line."},
            "timeout": {
                "type": "integer",
                "description": f"Seconds before the command is killed"
                f" (default {DEFAULT_TIMEOUT}, at most {MAX_TIMEOUT}).",
            },
        },
        "required": ["command"],
    },
)


class BadArguments(ValueError):
    """
    A call's arguments are not what the tool takes; the message tells the
    model what is wrong.
    """


@frozen
class BashOutcome:
    """
    How one call went.

    :ivar output: stdout and stderr as one text.
    :ivar status: the shell's exit status (negative: killed by that signal).
    :ivar seconds: how long it ran.
    :ivar timed_out: whether it ran over its timeout and was killed.
    """

    output: str
    status: int
    seconds: float
    timed_out: bool = False

    def for_model(self, timeout: float) -> str:
        """
        The result text the model gets: the output, cut to `OUTPUT_LIMIT`,
        and a note on how the command ended unless it exited 0.

        :param timeout: the timeout the call had.
        """
        text = cut(self.output, OUTPUT_LIMIT) if self.output else "(no output)"
        if self.timed_out:
            text += (
                f"\n[timed out after {timeout:g} s: the command and everything"
                " it started were killed]"
            )
        elif self.status != 0:
            text += f"\n[exit code {self.status}]"
        return text


def cut(text: str, limit: int) -> str:
    """
    ``text`` if it is at most ``limit`` characters long, else its start and
    end with a note of how much was cut between them.
    """
    if len(text) <= limit:
        return text
    half = limit // 2
    removed = len(text) - 2 * half
    return f"{text[:half]}\n[... {removed} characters cut ...]\n{text[-half:]}"


def parse_arguments(arguments: str) -> tuple[str, float]:
    """
    The command and timeout of a call.

    :param arguments: the call's JSON arguments.
    :raises BadArguments: if they are not ``{"command": <text>}``, with an
        optional positive ``timeout``.
    """
    usage = 'the bash tool takes {"command": "<command line>", "timeout": <seconds>}'
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        raise BadArguments(f"the arguments are not valid JSON; {usage}") from None
    command = value.get("command") if isinstance(value, dict) else None
    if not isinstance(command, str) or not command.strip():
        raise BadArguments(f"no command given; {usage}")
    timeout = value.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise BadArguments(f"the timeout must be a number of seconds; {usage}")
    if timeout <= 0:
        raise BadArguments(f"the timeout must be more than 0 seconds; {usage}")
    return command, float(min(timeout, MAX_TIMEOUT))


class Bash:
    """
    Runs the session's ``bash`` calls.

    :param reactor: runs the calls in its thread pool.
    :param work_dir: where each call starts.
    :param environment: gives the environment of the next call.
    """

    def __init__(
        self,
        reactor: IReactorThreads,
        work_dir: Path,
        environment: Callable[[], Mapping[str, str]],
    ) -> None:
        self._reactor = reactor
        self._work_dir = work_dir
        self._environment = environment
        self._shell = shutil.which("bash") or "/bin/sh"
        self._groups: list[int] = []
        self._killed = False

    def run(self, command: str, timeout: float) -> Deferred[BashOutcome]:
        """
        Run ``command``.

        :param command: the command line.
        :param timeout: seconds after which it is killed.
        :returns: a Deferred that fires with the outcome once the command and
            whatever kept its output open have ended; it fails with
            ``OSError`` if the shell cannot start.
        """
        reactor = IReactorFromThreads(self._reactor)
        return deferToThreadPool(
            reactor, self._reactor.getThreadPool(), self._execute, command, timeout
        )

    def kill_all(self) -> None:
        """
        Kill every process group a call created, with all that is left in
        it; a call that starts from now on is killed as it starts.
        """
        self._killed = True
        for group in list(self._groups):
            _kill_group(group)

    def _execute(self, command: str, timeout: float) -> BashOutcome:
        """
        Run ``command`` and wait for it, in a worker thread.
        """
        started = time.monotonic()
        process = subprocess.Popen(
            [self._shell, "-c", command],
            cwd=self._work_dir,
            env=dict(self._environment()),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        self._groups.append(process.pid)
        if self._killed:
            # kill_all came while this call was starting, and may have missed
            # its group.
            _kill_group(process.pid)
        timed_out = False
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process.pid)
            output, _ = process.communicate()
        return BashOutcome(
            output.decode("utf-8", errors="replace"),
            process.returncode,
            time.monotonic() - started,
            timed_out,
        )


def _kill_group(group: int) -> None:
    """
    Kill every process left in process group ``group``, if any is.
    """
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
