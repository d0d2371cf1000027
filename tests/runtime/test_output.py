"""
Tests for turning a run's output into log lines.
"""

from __future__ import annotations

from action_llama.runtime import LogLine
from action_llama.runtime._output import MAX_LINE_BYTES, LineSplitter, parse_line


def test_json_line_gives_level_message_and_fields() -> None:
    """
    A JSON object line gives its level, its message and its other fields.
    """
    line = parse_line(b'{"level": "error", "message": "boom", "hook": 2}', "stdout")

    assert line == LogLine("error", "boom", "stdout", {"hook": 2})


def test_plain_lines_take_the_level_of_their_stream() -> None:
    """
    A line that is not a JSON object with a message is info on stdout and
    warn on stderr.
    """
    assert parse_line(b"hello\r", "stdout") == LogLine("info", "hello", "stdout")
    assert parse_line(b"[1, 2]", "stderr") == LogLine("warn", "[1, 2]", "stderr")


def test_unknown_level_falls_back_to_the_stream_level() -> None:
    """
    A JSON line with a level outside info/warn/error/debug keeps its message
    at the stream's level.
    """
    line = parse_line(b'{"level": "fatal", "message": "m"}', "stderr")

    assert line == LogLine("warn", "m", "stderr")


def test_partial_lines_wait_for_their_newline() -> None:
    """
    A line split across chunks is delivered once, when its newline arrives,
    and an unterminated last line is delivered on flush.
    """
    lines: list[LogLine] = []
    splitter = LineSplitter("stdout", lines.append)

    splitter.feed(b"fir")
    assert lines == []
    splitter.feed(b"st\n\nsec")
    assert lines == [LogLine("info", "first", "stdout")]
    splitter.flush()
    assert lines == [
        LogLine("info", "first", "stdout"),
        LogLine("info", "sec", "stdout"),
    ]


def test_overlong_line_is_delivered_in_pieces() -> None:
    """
    A line longer than the limit is delivered in pieces instead of growing
    the buffer without end.
    """
    lines: list[LogLine] = []
    splitter = LineSplitter("stderr", lines.append)

    splitter.feed(b"x" * (MAX_LINE_BYTES + 10))

    assert [len(line.message) for line in lines] == [MAX_LINE_BYTES]
    splitter.flush()
    assert [len(line.message) for line in lines] == [MAX_LINE_BYTES, 10]
