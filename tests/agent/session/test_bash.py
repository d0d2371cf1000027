"""
Tests for the ``bash`` tool, with real processes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.interfaces import IReactorThreads

from action_llama.agent.session._bash import (
    MAX_TIMEOUT,
    BadArguments,
    Bash,
    BashOutcome,
    cut,
    parse_arguments,
)

from .plumbing import gone


def bash(work_dir: Path, **extra: str) -> Bash:
    """
    A tool that runs in ``work_dir`` with this test's environment and
    ``extra`` on top.
    """
    return Bash(IReactorThreads(reactor), work_dir, lambda: {**os.environ, **extra})


@pytest_twisted.ensureDeferred
async def test_output_and_exit_code(tmp_path: Path) -> None:
    """
    stdout and stderr come back together, with the exit status.
    """
    outcome = await bash(tmp_path).run("echo out; echo err >&2; exit 3", 10)

    assert outcome.output == "out\nerr\n"
    assert outcome.status == 3 and not outcome.timed_out
    assert outcome.for_model(10) == "out\nerr\n\n[exit code 3]"


@pytest_twisted.ensureDeferred
async def test_command_runs_in_the_work_dir_with_its_environment(
    tmp_path: Path,
) -> None:
    """
    A command starts in the work directory, with the environment the tool
    was given (where ``setenv`` values come in).
    """
    outcome = await bash(tmp_path, GREETING="hi").run('pwd; echo "$GREETING"', 10)

    assert outcome.output == f"{tmp_path}\nhi\n"
    assert outcome.for_model(10) == f"{tmp_path}\nhi\n"


@pytest_twisted.ensureDeferred
async def test_timeout_kills_everything_the_command_started(tmp_path: Path) -> None:
    """
    A command over its timeout is killed with the processes it started in
    the background.
    """
    command = "sleep 60 & echo $! > bg.pid; echo started; sleep 60"

    outcome = await bash(tmp_path).run(command, 0.2)

    assert outcome.timed_out and outcome.output == "started\n"
    assert outcome.for_model(0.2).endswith(
        "[timed out after 0.2 s: the command and everything it started were killed]"
    )
    assert gone(int((tmp_path / "bg.pid").read_text()))


@pytest_twisted.ensureDeferred
async def test_kill_all_ends_what_commands_left_running(tmp_path: Path) -> None:
    """
    A background process outlives its call until ``kill_all``.
    """
    tool = bash(tmp_path)
    outcome = await tool.run("sleep 60 > /dev/null 2>&1 & echo $!", 10)
    pid = int(outcome.output)
    os.kill(pid, 0)

    tool.kill_all()

    assert gone(pid)


def test_empty_output_is_said_to_be_empty() -> None:
    """
    A command without output gives the model a note rather than nothing.
    """
    assert BashOutcome("", 0, 0.1).for_model(10) == "(no output)"


def test_long_output_is_cut_in_the_middle() -> None:
    """
    Output over the limit keeps its start and end, with a note of the cut.
    """
    text = "a" * 10 + "b" * 10 + "c" * 10

    assert cut(text, 10) == "aaaaa\n[... 20 characters cut ...]\nccccc"
    assert cut(text, 30) == text


def test_arguments() -> None:
    """
    A call gives a command and, if it likes, a timeout, capped at the most
    a call may have.
    """
    assert parse_arguments('{"command": "ls"}') == ("ls", 120.0)
    assert parse_arguments('{"command": "ls", "timeout": 5}') == ("ls", 5.0)
    assert parse_arguments('{"command": "ls", "timeout": 9999}')[1] == MAX_TIMEOUT


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ("not json", "not valid JSON"),
        ("{}", "no command given"),
        ('{"command": 3}', "no command given"),
        ('{"command": "ls", "timeout": "soon"}', "a number of seconds"),
        ('{"command": "ls", "timeout": 0}', "more than 0 seconds"),
    ],
)
def test_bad_arguments(arguments: str, reason: str) -> None:
    """
    Bad arguments are refused with a reason the model can act on.
    """
    with pytest.raises(BadArguments, match=reason):
        parse_arguments(arguments)
