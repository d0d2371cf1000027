"""
``al logs`` as a user runs it, on log files written the way the service
writes them; it needs no gateway.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest_twisted
from twisted.internet import reactor

from tests.helpers import al_argv, spawn

from .support import al, log_record, one_line_error


def today() -> str:
    """
    The local date, as log file names spell it.
    """
    return time.strftime("%Y-%m-%d")


def write_log(project: Path, stem: str, day: str, lines: list[str]) -> Path:
    """
    Append ``lines`` to the log file of ``stem`` for ``day``.
    """
    path = project / ".al" / "logs" / f"{stem}-{day}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.writelines(lines)
    return path


def two_runs(project: Path) -> None:
    """
    Today's log of ``hello``: two runs of three lines each, interleaved
    with a line that is not JSON.
    """
    lines = []
    for n in range(3):
        lines.append(log_record(f"first {n}", "hello-aaaa"))
        lines.append(log_record(f"second {n}", "hello-bbbb", level="warn"))
    lines.insert(2, "not json\n")
    write_log(project, "hello", today(), lines)


@pytest_twisted.ensureDeferred
async def test_last_lines_are_readable(offline: Path) -> None:
    """
    ``-n N`` shows the agent's last N records, one readable line each:
    local time, level, instance, message.
    """
    two_runs(offline)
    result = await al("logs", "hello", "-n", "2", "-p", str(offline))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 2
    assert lines[0][8:] == " INFO  hello-aaaa first 2"
    assert lines[1][8:] == " WARN  hello-bbbb second 2"
    assert time.strptime(lines[0][:8], "%H:%M:%S")
    assert "\x1b[" not in result.out


@pytest_twisted.ensureDeferred
async def test_one_instance(offline: Path) -> None:
    """
    ``-i ID`` keeps one instance's records; the agent comes from the id.
    """
    two_runs(offline)
    result = await al("logs", "-i", "hello-bbbb", "-p", str(offline))
    assert result.code == 0, result.err
    messages = [line.split(maxsplit=3)[3] for line in result.out.splitlines()]
    assert messages == ["second 0", "second 1", "second 2"]


@pytest_twisted.ensureDeferred
async def test_raw_json_lines(offline: Path) -> None:
    """
    ``-r`` prints the stored records as JSON lines.
    """
    two_runs(offline)
    result = await al("logs", "hello", "-r", "-n", "3", "-p", str(offline))
    assert result.code == 0, result.err
    records = [json.loads(line) for line in result.out.splitlines()]
    assert [r["message"] for r in records] == ["second 1", "first 2", "second 2"]
    assert records[0]["instance"] == "hello-bbbb" and "ts" in records[0]


@pytest_twisted.ensureDeferred
async def test_one_day(offline: Path) -> None:
    """
    ``-d`` reads the given day's file, and only that one.
    """
    write_log(offline, "hello", "2025-01-02", [log_record("old news", "hello-old")])
    two_runs(offline)
    old = await al("logs", "hello", "-d", "2025-01-02", "-p", str(offline))
    empty = await al("logs", "hello", "-d", "2025-01-03", "-p", str(offline))
    assert old.code == 0 and old.out.splitlines()[0].endswith("hello-old old news")
    assert len(old.out.splitlines()) == 1
    assert empty.code == 0 and empty.out == ""
    assert "No log lines for hello on 2025-01-03" in empty.err


@pytest_twisted.ensureDeferred
async def test_scheduler_log_without_an_agent(offline: Path) -> None:
    """
    Without an agent, ``al logs`` shows the scheduler's log, naming each
    record's source.
    """
    record = {
        "time": "2026-03-04T05:06:07.000+00:00",
        "level": "warn",
        "source": "action_llama.service",
        "message": "Credential github_token is missing",
    }
    write_log(offline, "scheduler", today(), [json.dumps(record) + "\n"])
    result = await al("logs", "-p", str(offline))
    assert result.code == 0, result.err
    [line] = result.out.splitlines()
    assert line.endswith(" WARN  service Credential github_token is missing")


@pytest_twisted.ensureDeferred
async def test_unknown_agent(offline: Path) -> None:
    """
    An agent that neither the project nor the logs know is an error line.
    """
    result = await al("logs", "nope", "-p", str(offline))
    assert result.code == 1
    assert one_line_error(result) == "Error: there is no agent called 'nope'"


@pytest_twisted.ensureDeferred
async def test_follow_shows_new_lines(offline: Path) -> None:
    """
    ``-f`` shows the last lines, then each line as it is appended, until
    interrupted.
    """
    two_runs(offline)
    process = spawn(
        reactor, al_argv("logs", "hello", "-f", "-n", "1", "-p", str(offline))
    )
    await process.wait_for(r"second 2\n", reactor)
    write_log(offline, "hello", today(), [log_record("appended", "hello-cccc")])
    write_log(offline, "hello", today(), [log_record("and more", "hello-cccc")])
    await process.wait_for(r"hello-cccc and more\n", reactor)
    process.signal("TERM")
    assert await process.ended == 0
    lines = process.output.splitlines()
    assert [line[9:] for line in lines] == [
        "WARN  hello-bbbb second 2",
        "INFO  hello-cccc appended",
        "INFO  hello-cccc and more",
    ]


@pytest_twisted.ensureDeferred
async def test_follow_refuses_a_day(offline: Path) -> None:
    """
    ``-f`` with ``-d`` is a usage error.
    """
    result = await al("logs", "hello", "-f", "-d", "2025-01-02", "-p", str(offline))
    assert result.code == 2 and "cannot go with -d" in result.err
