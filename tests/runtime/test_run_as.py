"""
Tests for starting a run as another OS user, without starting it for real.
"""

from __future__ import annotations

import os
import pwd
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
from twisted.internet.interfaces import IProcessProtocol, IReactorProcess
from twisted.internet.task import Clock
from zope.interface import implementer

from action_llama.runtime import CHILD_NICENESS, ProcessRuntime, child_argv

from .support import make_spec


class _Transport:
    """
    The little of a process transport the runtime touches.
    """

    pid = 4242

    def closeStdin(self) -> None:
        """
        Nothing to close.
        """


@implementer(IReactorProcess)
class _RecordingReactor(Clock):
    """
    A clock that records the processes it is asked to spawn.
    """

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[tuple[list[str], Mapping[str, str], str | None]] = []

    def spawnProcess(  # type: ignore[override]  # records str arguments only
        self,
        processProtocol: IProcessProtocol,
        executable: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        path: str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: bool = False,
        childFDs: Mapping[int, int | str] | None = None,
    ) -> _Transport:
        """
        Record the call and connect the protocol to a fake transport.
        """
        assert executable == args[0]
        self.spawned.append((list(args), dict(env or {}), path))
        transport = _Transport()
        processProtocol.makeConnection(transport)  # type: ignore[arg-type]
        return transport


def test_child_argv_without_run_as() -> None:
    """
    A run of the service's own user is the interpreter running the agent
    module on the run file.
    """
    argv = child_argv("/py", Path("/r/run.json"), None, ["PATH"])

    assert argv == ["/py", "-m", "action_llama.agent", "/r/run.json"]


def test_run_as_goes_through_sudo_preserving_the_environment(tmp_path: Path) -> None:
    """
    A run with ``run_as`` starts (at a lower priority, where ``nice`` exists)
    through ``sudo -n -u`` with every variable of its environment preserved,
    in a run directory the user owns.
    """
    user = pwd.getpwuid(os.getuid()).pw_name
    reactor = _RecordingReactor()
    runtime = ProcessRuntime(reactor, tmp_path / "state")
    spec = attrs.evolve(make_spec(tmp_path, ["echo hi"]), run_as=user)

    handle = runtime.start(spec, lambda line: None)

    [(argv, env, path)] = reactor.spawned
    if argv[0].endswith("/nice"):
        assert argv[1:3] == ["-n", str(CHILD_NICENESS)]
        argv = argv[3:]
    assert argv[:4] == ["sudo", "-n", "-u", user]
    preserved = argv[4].removeprefix("--preserve-env=").split(",")
    assert sorted(preserved) == sorted(env)
    assert {"PATH", "HOME", "AL_RUN_SECRET", "AL_BIN_DIR"} <= set(preserved)
    run_file = str(spec.run_dir / "run.json")
    assert argv[5:] == [sys.executable, "-m", "action_llama.agent", run_file]
    assert path is None and env["AL_RUN_DIR"] == str(spec.run_dir)
    assert handle.pid == 4242
    assert [call.getTime() for call in reactor.getDelayedCalls()] == [spec.timeout]
