"""
The child side of a run: pre-hooks, the session, post-hooks.

Protocol with the runtime: the child writes its log as JSON lines on stdout,
one object per line with ``level``, ``message`` and any further fields.
Writing to stdout is therefore this module's job, not a stray print.

Failure policy (SPEC 5.3, "any failure aborts the run"): the first failing
pre-hook ends the run with exit code 1, and neither the session nor the
post-hooks run; likewise a failing session skips the post-hooks, and a
failing post-hook skips the rest. Post-hooks are the run's last step, not a
clean-up step. After every hook, an exit code stored by ``al-exit`` ends the
run with that code.

The runtime starts the child in the run's work directory, which is where
every hook runs.
"""

from __future__ import annotations

import ctypes
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from types import FrameType
from typing import Any

from action_llama.agent.commands import read_env_file

#: ``prctl`` option that makes a process adopt its orphaned descendants.
_PR_SET_CHILD_SUBREAPER = 36

#: Longest piece of a hook's output line put in one log line; with JSON
#: escaping it stays under the runtime's line limit.
_MAX_MESSAGE = 8192

#: How long the stragglers of a finished run get to exit after ``SIGTERM``.
_REAP_GRACE = 1.0


def emit(level: str, message: str, **fields: Any) -> None:
    """
    Write one log line to the runtime.

    :param level: ``info``, ``warn``, ``error`` or ``debug``.
    :param message: the text of the line.
    :param fields: further fields of the line.
    """
    sys.stdout.write(json.dumps({**fields, "level": level, "message": message}))
    sys.stdout.write("\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    """
    Run the run described by the run file named in ``argv``.

    :param argv: the command line arguments: the run file's path.
    :returns: the exit code: 0 success, 1 failure, or the code given to
        ``al-exit``. ``SIGTERM`` ends the run with 143.
    """
    if len(argv) != 1:
        emit("error", "usage: python -m action_llama.agent <run file>")
        return 1
    signal.signal(signal.SIGTERM, _terminated)
    _become_subreaper()
    try:
        return _run(Path(argv[0]))
    finally:
        _end_group()


def _run(run_file: Path) -> int:
    """
    Read the run file and go through the run's steps.
    """
    try:
        run = json.loads(run_file.read_text())
    except (OSError, ValueError) as e:
        emit("error", f"cannot read the run file {run_file}: {e}")
        return 1
    hooks = run.get("hooks", {})
    emit("info", f"run of {run.get('agent')} started", phase="start")
    code = _run_hooks("pre", hooks.get("pre", []))
    if code is not None:
        return code
    if run.get("models"):
        # Imported here: Twisted and treq are slow to import, and script
        # agents never need them.
        from action_llama.agent.session import run_session

        code = run_session(run)
        if code is not None:
            return code
    code = _run_hooks("post", hooks.get("post", []))
    if code is not None:
        return code
    emit("info", "run finished", phase="end")
    return 0


def _run_hooks(phase: str, commands: list[str]) -> int | None:
    """
    Run hooks in order until one fails or asks to exit.

    :param phase: ``pre`` or ``post``.
    :param commands: the shell commands.
    :returns: ``None`` if every hook succeeded, else the run's exit code.
    """
    for number, command in enumerate(commands, start=1):
        fields = {"phase": f"{phase}-hook", "hook": number}
        emit("info", f"$ {command}", **fields)
        status = _run_hook(command, fields)
        requested = requested_exit()
        if requested is not None:
            emit("info", f"al-exit ended the run with code {requested}", **fields)
            return requested
        if status != 0:
            emit(
                "error",
                f"{phase}-hook {number} failed with exit code {status}: {command}",
                **fields,
            )
            return 1
    return None


def _run_hook(command: str, fields: dict[str, Any]) -> int:
    """
    Run one hook through ``/bin/sh -c``, relaying its output line by line.

    The hook ends when its shell ends: output that background jobs write
    after that is not waited for.

    :returns: the shell's exit status.
    """
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command],
        env=command_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    levels = {proc.stdout: "info", proc.stderr: "warn"}
    partial = {proc.stdout: b"", proc.stderr: b""}
    selector = selectors.DefaultSelector()
    for pipe in levels:
        selector.register(pipe, selectors.EVENT_READ, data=pipe)
    while selector.get_map():
        exited = proc.poll() is not None
        for key, _ in selector.select(timeout=0 if exited else 0.05):
            pipe = key.data
            data = os.read(key.fd, 65536)
            if not data:
                selector.unregister(pipe)
            *lines, partial[pipe] = (partial[pipe] + data).split(b"\n")
            _relay(lines, levels[pipe], fields)
        if exited:
            break
    for pipe, rest in partial.items():
        _relay([rest], levels[pipe], fields)
    selector.close()
    proc.stdout.close()
    proc.stderr.close()
    return proc.wait()


def _relay(lines: list[bytes], level: str, fields: dict[str, Any]) -> None:
    """
    Emit a hook's output lines, skipping blank ones and cutting long ones.
    """
    for line in lines:
        text = line.decode("utf-8", errors="replace").rstrip("\r")
        if text.strip():
            for start in range(0, len(text), _MAX_MESSAGE):
                emit(level, text[start : start + _MAX_MESSAGE], **fields)


def command_env() -> dict[str, str]:
    """
    The environment of the next hook or session command: ours, plus what
    ``setenv`` stored, with the agent commands first on ``PATH``.
    """
    env = dict(os.environ)
    if "AL_ENV_FILE" in env:
        env.update(read_env_file(Path(env["AL_ENV_FILE"])))
    bin_dir = env.get("AL_BIN_DIR")
    path = env.get("PATH", os.defpath)
    if bin_dir and not path.startswith(f"{bin_dir}:"):
        env["PATH"] = f"{bin_dir}:{path}"
    return env


def requested_exit() -> int | None:
    """
    The exit code ``al-exit`` stored for this run, if it was called.
    """
    run_dir = os.environ.get("AL_RUN_DIR")
    if run_dir is None:
        return None
    try:
        return int((Path(run_dir) / "exit-code").read_text())
    except FileNotFoundError:
        return None


def _terminated(signum: int, frame: FrameType | None) -> None:
    """
    End the run on ``SIGTERM``; the ``finally`` in `main` cleans up.
    """
    raise SystemExit(128 + signum)


def _become_subreaper() -> None:
    """
    Adopt the run's orphaned descendants, so that `_end_group` can reap them
    and nothing of the run outlives it, even as a zombie.

    Only Linux has this; elsewhere orphans go to init, which reaps them.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _end_group() -> None:
    """
    End what is left in the run's process group and reap it, so that nothing
    of the run outlives it: ``SIGTERM`` first, then, for whatever is still
    there after the grace period, ``SIGKILL``.

    The runtime also sends ``SIGKILL`` to the group once we exit, but by then
    the stragglers are orphans that only init can reap.
    """
    if os.getpgrp() != os.getpid():
        return
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(0, signal.SIGTERM)
    if _reap(time.monotonic() + _REAP_GRACE):
        return
    for pid in _others_in_group():
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _reap(time.monotonic() + _REAP_GRACE)


def _reap(deadline: float) -> bool:
    """
    Reap children (ours, and the orphans we adopted) until there are none
    left or ``deadline`` (a ``time.monotonic`` value) has passed.

    :returns: whether none is left.
    """
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0 and time.monotonic() > deadline:
            return False
        if pid == 0:
            # The run's own child process, not the service: it may block.
            time.sleep(0.01)


def _others_in_group() -> list[int]:
    """
    The other live processes of our process group, read from ``/proc``; none
    where there is no ``/proc``.
    """
    me, group = os.getpid(), os.getpgrp()
    found = []
    with suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:
                continue
            # The fields after the command name: state, ppid, pgrp, ...
            fields = stat.rpartition(")")[2].split()
            if len(fields) > 2 and int(fields[2]) == group:
                found.append(int(entry))
    return found
