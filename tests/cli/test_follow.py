"""
`LogFollower`: the records appended to a daily log, across local midnight,
driven by a ``task.Clock``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from twisted.internet.task import Clock

from action_llama.cli._follow import LogFollower, local_day


def line(message: str) -> bytes:
    """
    One JSON log line.
    """
    return (json.dumps({"level": "info", "message": message}) + "\n").encode()


def append(directory: Path, day: str, data: bytes) -> None:
    """
    Append ``data`` to the ``hello`` log of ``day``.
    """
    with open(directory / f"hello-{day}.log", "ab") as f:
        f.write(data)


def messages(follower: LogFollower) -> list[str]:
    """
    The messages of the records a poll gives.
    """
    return [record["message"] for record in follower.poll()]


def test_only_lines_written_after_it_starts_are_given(tmp_path: Path) -> None:
    """
    Lines already in the file are not given; new ones are, once each.
    """
    clock = Clock()
    clock.advance(time.time())
    day = local_day(clock.seconds())
    append(tmp_path, day, line("old"))
    follower = LogFollower(tmp_path, "hello", clock)
    append(tmp_path, day, line("new"))
    assert messages(follower) == ["new"]
    assert messages(follower) == []


def test_a_partial_line_waits_for_its_end(tmp_path: Path) -> None:
    """
    A line being written is given only once its newline arrives; a line
    that is not JSON is skipped.
    """
    clock = Clock()
    clock.advance(time.time())
    day = local_day(clock.seconds())
    follower = LogFollower(tmp_path, "hello", clock)
    whole = line("complete")
    append(tmp_path, day, b"garbage\n" + whole[:10])
    assert messages(follower) == []
    append(tmp_path, day, whole[10:])
    assert messages(follower) == ["complete"]


def test_midnight_moves_to_the_new_days_file(tmp_path: Path) -> None:
    """
    At local midnight the rest of the old day's file is read, then the new
    day's file from its start.
    """
    clock = Clock()
    clock.advance(time.mktime((2026, 3, 1, 23, 59, 30, 0, 0, -1)))
    follower = LogFollower(tmp_path, "hello", clock)
    assert messages(follower) == []
    append(tmp_path, "2026-03-01", line("before midnight"))
    clock.advance(60)
    append(tmp_path, "2026-03-01", line("late write"))
    append(tmp_path, "2026-03-02", line("after midnight"))
    assert messages(follower) == ["before midnight", "late write", "after midnight"]
    append(tmp_path, "2026-03-02", line("next"))
    assert messages(follower) == ["next"]
