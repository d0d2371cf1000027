"""
`ProcessRuntime`: each run is a local child process.

The child is ``python -m action_llama.agent <run_dir>/run.json``. It makes
itself a session and process group leader first thing, so the runtime can
signal everything a run started (hooks, their background jobs) at once:
``SIGTERM`` to the group, then ``SIGKILL`` after a grace period.

With ``run_as``, the child is started as
``sudo -n -u <user> --preserve-env=<names> <python> -m action_llama.agent
<run file>``. The sudoers rule must allow it without a password and let those
variables through (``SETENV:``). The child puts ``AL_BIN_DIR`` back at the
front of ``PATH`` itself, as sudo's ``secure_path`` may replace it.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Callable, Collection
from contextlib import suppress
from pathlib import Path

from attrs import evolve
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IDelayedCall, IReactorProcess, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from action_llama.credentials import CredentialStore

from ._masking import Masker
from ._output import LineSplitter
from ._spec import IRunHandle, IRuntime, LogLine, RunExit, RunSpec
from ._staging import (
    StagingError,
    hand_over,
    make_run_dir,
    remove_credentials,
    stage_credentials,
    write_command_wrappers,
)

log = Logger()

#: Parent variables passed on to runs when set; nothing else leaks through.
_INHERITED = ("LANG", "TZ")


def child_argv(
    python: str, run_file: Path, run_as: str | None, env_names: Collection[str]
) -> list[str]:
    """
    The command line that starts a run's child process.

    :param python: the interpreter.
    :param run_file: the run file the child reads.
    :param run_as: the OS user to run as through sudo, or ``None``.
    :param env_names: the variables sudo must preserve for the child.
    :returns: the argv, program first.
    """
    argv = [python, "-m", "action_llama.agent", str(run_file)]
    if run_as is None:
        return argv
    preserve = ",".join(sorted(env_names))
    return ["sudo", "-n", "-u", run_as, f"--preserve-env={preserve}", *argv]


#: How much lower than the service's the priority of a run's process is.
CHILD_NICENESS = 10


@implementer(IRuntime)
class ProcessRuntime:
    """
    Start runs as local child processes with ``reactor.spawnProcess``.
    """

    def __init__(
        self,
        reactor: IReactorProcess,
        state_dir: Path,
        credentials: CredentialStore | None = None,
        python: str = sys.executable,
        kill_grace: float = 5.0,
    ) -> None:
        """
        Write the agent command wrappers to ``<state_dir>/bin``.

        :param reactor: spawns the children; must provide `IReactorTime` too.
        :param state_dir: the service's state directory.
        :param credentials: the credential store; ``None`` for the one
            under ``$HOME``.
        :param python: the interpreter of the children and the commands.
        :param kill_grace: seconds between ``SIGTERM`` and ``SIGKILL``.
        """
        self._reactor = reactor
        self._clock = IReactorTime(reactor)
        self._credentials = (
            credentials if credentials is not None else CredentialStore()
        )
        self._python = python
        self._kill_grace = kill_grace
        # Runs are background work: at a lower priority they cannot starve
        # the scheduler and gateway of CPU when many start at once.
        self._nice = shutil.which("nice")
        self._bin_dir = state_dir / "bin"
        write_command_wrappers(self._bin_dir, python)

    def start(self, spec: RunSpec, on_line: Callable[[LogLine], None]) -> IRunHandle:
        """
        Stage the run directory and start the child.

        See `IRuntime.start`.
        """
        run = _ProcessRun(spec, on_line, self._clock, self._kill_grace)
        try:
            make_run_dir(spec.run_dir, spec.run_file)
        except StagingError as e:
            run.fail(str(e))
            return run
        try:
            env = self._environment(spec)
            if spec.run_as is not None:
                hand_over(spec.run_dir, spec.run_as)
            run.mask = Masker.from_environ(env)
            argv = child_argv(self._python, spec.run_dir / "run.json", spec.run_as, env)
            if self._nice is not None:
                argv = [self._nice, "-n", str(CHILD_NICENESS), *argv]
            # The child moves into its work directory itself: started without
            # one, Twisted can use posix_spawn instead of forking the service.
            self._reactor.spawnProcess(run, argv[0], argv, env=env)
        except (StagingError, OSError) as e:
            remove_credentials(spec.run_dir)
            if isinstance(e, StagingError):
                run.fail(str(e))
            else:
                run.fail(f"the run could not start: {e}")
        return run

    def _environment(self, spec: RunSpec) -> dict[str, str]:
        """
        The child's whole environment: a small base, the staged credentials,
        the spec's extra variables, then the runtime's own.

        :raises StagingError: if a credential cannot be staged.
        """
        path = os.environ.get("PATH", os.defpath)
        env = {
            "PATH": f"{self._bin_dir}:{path}",
            "HOME": str(spec.run_dir / "work"),
            "LANG": "C.UTF-8",
        }
        env.update({k: os.environ[k] for k in _INHERITED if k in os.environ})
        env.update(
            stage_credentials(spec.run_dir, spec.credential_refs, self._credentials)
        )
        env.update(spec.env)
        env.update(
            AL_INSTANCE_ID=spec.instance_id,
            AL_AGENT=spec.agent_name,
            AL_RUN_DIR=str(spec.run_dir),
            AL_ENV_FILE=str(spec.run_dir / "env.json"),
            AL_TRIGGER_FILE=str(spec.run_dir / "trigger.json"),
            AL_BIN_DIR=str(self._bin_dir),
        )
        return env


@implementer(IRunHandle)
class _ProcessRun(ProcessProtocol):
    """
    One run's child process: its output, its timers and its end.
    """

    pid: int | None = None

    def __init__(
        self,
        spec: RunSpec,
        on_line: Callable[[LogLine], None],
        clock: IReactorTime,
        kill_grace: float,
    ) -> None:
        self.finished: Deferred[RunExit] = Deferred()
        self._spec = spec
        self._on_line = on_line
        self._clock = clock
        self._kill_grace = kill_grace
        self._splitters = {
            1: LineSplitter("stdout", self._deliver),
            2: LineSplitter("stderr", self._deliver),
        }
        self._timers: list[IDelayedCall] = []
        self._ending: RunExit | None = None
        self._exit: RunExit | None = None
        self._waiters: list[Deferred[RunExit]] = []
        self.mask: Masker | None = None

    def connectionMade(self) -> None:
        """
        Note the pid, close the child's stdin and start the timeout.
        """
        self.pid = self.transport.pid  # type: ignore[union-attr]
        self.transport.closeStdin()  # type: ignore[union-attr]
        self._timers.append(self._clock.callLater(self._spec.timeout, self._time_out))

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """
        Cut the output into lines and deliver each one at once.
        """
        self._splitters[childFD].feed(data)

    def processExited(self, reason: Failure) -> None:
        """
        End whatever the run left running in its process group.
        """
        self._signal_group(signal.SIGKILL)

    def processEnded(self, reason: Failure) -> None:
        """
        Deliver the last partial lines and report how the run ended.
        """
        for splitter in self._splitters.values():
            splitter.flush()
        remove_credentials(self._spec.run_dir)
        code = 0
        if isinstance(reason.value, ProcessTerminated):
            status = reason.value
            code = (
                status.exitCode if status.exitCode is not None else 128 + status.signal
            )
        if self._ending is not None and self._ending.outcome == "killed":
            self._end(RunExit(code, "killed", self._ending.reason))
        elif self._ending is not None:
            self._end(self._ending)
        elif code == 0:
            self._end(RunExit(0, "completed"))
        else:
            self._end(RunExit(code, "error", f"the run exited with code {code}"))

    def kill(self) -> Deferred[RunExit]:
        """
        Stop the run (see `IRunHandle.kill`).
        """
        self._stop(RunExit(143, "killed", "the run was killed"))
        if self._exit is not None:
            return succeed(self._exit)
        waiter: Deferred[RunExit] = Deferred()
        self._waiters.append(waiter)
        return waiter

    def fail(self, reason: str) -> None:
        """
        End a run that could not start.

        :param reason: why, in words a person can act on.
        """
        log.warn(
            "Run {instance_id} could not start: {reason}",
            instance_id=self._spec.instance_id,
            reason=reason,
        )
        self._end(RunExit(1, "error", reason))

    def _time_out(self) -> None:
        """
        Stop a run that has used up its time.
        """
        self._stop(
            RunExit(124, "timeout", f"the run timed out after {self._spec.timeout} s")
        )

    def _stop(self, ending: RunExit) -> None:
        """
        Send ``SIGTERM`` to the run's group, and ``SIGKILL`` after the grace
        period; the first reason to stop is the one reported.
        """
        if self._ending is not None or self._exit is not None:
            return
        self._ending = ending
        self._signal_group(signal.SIGTERM)
        self._timers.append(
            self._clock.callLater(self._kill_grace, self._signal_group, signal.SIGKILL)
        )

    def _signal_group(self, signum: int) -> None:
        """
        Signal the run's process group; if there is none yet (the child has
        not reached ``setsid``, or is sudo, which passes signals on), signal
        the child alone.
        """
        assert self.pid is not None
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            with suppress(ProcessExitedAlready):
                self.transport.signalProcess(signum)  # type: ignore[union-attr]

    def _deliver(self, line: LogLine) -> None:
        """
        Hand one line to the caller; a failing callback loses only that line.
        """
        with log.failuresHandled(
            "Could not handle a log line of run {instance_id}",
            instance_id=self._spec.instance_id,
        ):
            if self.mask is not None:
                line = evolve(line, message=self.mask(line.message))
            self._on_line(line)

    def _end(self, result: RunExit) -> None:
        """
        Record the end, cancel the timers and tell everyone waiting.
        """
        self._exit = result
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        log.debug(
            "Run {instance_id} ended: {outcome} ({exit_code})",
            instance_id=self._spec.instance_id,
            outcome=result.outcome,
            exit_code=result.exit_code,
        )
        waiters, self._waiters = self._waiters, []
        for waiter in [self.finished, *waiters]:
            waiter.callback(result)
