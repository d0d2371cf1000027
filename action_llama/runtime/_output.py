"""
Turn the bytes a run writes into `LogLine` values.

The child's protocol is JSON lines on stdout: each line an object with
``level``, ``message`` and any further fields. Anything else a run writes (a
traceback, a stray print) still reaches the log: a line that is not such an
object becomes an ``info`` line on stdout and a ``warn`` line on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import get_args

from ._spec import LogLevel, LogLine, Stream

_LEVELS: frozenset[str] = frozenset(get_args(LogLevel))
_DEFAULT_LEVEL: dict[Stream, LogLevel] = {"stdout": "info", "stderr": "warn"}

#: A line longer than this is delivered in pieces of this size, so that a
#: child that never writes a newline cannot make the buffer grow without end.
MAX_LINE_BYTES = 64 * 1024


def parse_line(raw: bytes, stream: Stream) -> LogLine:
    """
    Parse one line of output (without its newline).

    :param raw: the bytes of the line.
    :param stream: the stream it was read from.
    :returns: the line: a JSON object's ``level``, ``message`` and other
        fields, or the whole text at the stream's default level.
    """
    text = raw.decode("utf-8", errors="replace").rstrip("\r")
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if not (isinstance(obj, dict) and isinstance(obj.get("message"), str)):
        return LogLine(_DEFAULT_LEVEL[stream], text, stream)
    message = obj.pop("message")
    level = obj.pop("level", None)
    if level not in _LEVELS:
        level = _DEFAULT_LEVEL[stream]
    return LogLine(level, message, stream, obj)


class LineSplitter:
    """
    Cut a stream of chunks into lines, keeping a partial line until its end.

    :ivar stream: the stream this splitter reads.
    """

    def __init__(self, stream: Stream, deliver: Callable[[LogLine], None]) -> None:
        """
        :param stream: the stream the chunks come from.
        :param deliver: called with each complete line, at once.
        """
        self.stream = stream
        self._deliver = deliver
        self._partial = b""

    def feed(self, data: bytes) -> None:
        """
        Take a chunk of output and deliver every line it completes.

        Blank lines carry nothing and are dropped.

        :param data: the chunk, as read from the pipe.
        """
        *lines, self._partial = (self._partial + data).split(b"\n")
        while len(self._partial) > MAX_LINE_BYTES:
            lines.append(self._partial[:MAX_LINE_BYTES])
            self._partial = self._partial[MAX_LINE_BYTES:]
        for line in lines:
            if line.strip():
                self._deliver(parse_line(line, self.stream))

    def flush(self) -> None:
        """
        Deliver the last, unterminated line, if there is one.
        """
        self.feed(b"\n")
