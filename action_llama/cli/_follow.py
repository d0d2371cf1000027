"""
Following a daily log as it grows: ``al logs -f`` and ``al run``.

Logs are one file per local day, ``<stem>-YYYY-MM-DD.log`` (``stem`` is an
agent's name, or ``scheduler``). A `LogFollower` remembers how far it has
read today's file; each `LogFollower.poll` gives the complete records
written since, and at local midnight it finishes the old day's file and
moves on to the new one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from twisted.internet.interfaces import IReactorTime

from ..logs import log_path


def local_day(ts: float) -> str:
    """
    The local date of ``ts``, as log file names spell it.
    """
    return time.strftime("%Y-%m-%d", time.localtime(ts))


class LogFollower:
    """
    Reads the records appended to one stem's daily log files.

    :param directory: the project's ``.al/logs``.
    :param stem: the agent's name, or ``scheduler``.
    :param clock: tells which day it is.
    """

    def __init__(self, directory: Path, stem: str, clock: IReactorTime) -> None:
        self._directory = directory
        self._stem = stem
        self._clock = clock
        self._day = local_day(clock.seconds())
        self._offset = self._size()
        self._partial = b""

    def _path(self) -> Path:
        """
        The current day's file.
        """
        return log_path(self._directory, self._stem, self._day)

    def _size(self) -> int:
        """
        The size of the current day's file; 0 if it does not exist yet.
        """
        try:
            return self._path().stat().st_size
        except FileNotFoundError:
            return 0

    def poll(self) -> list[dict[str, Any]]:
        """
        The records written since the last poll (or since this follower
        was made), oldest first; lines that are not JSON are skipped.
        """
        records = self._read()
        today = local_day(self._clock.seconds())
        if today != self._day:
            self._day, self._offset, self._partial = today, 0, b""
            records += self._read()
        return records

    def _read(self) -> list[dict[str, Any]]:
        """
        The complete lines added to the current day's file since the last
        read; a partial last line waits for its end.
        """
        try:
            with open(self._path(), "rb") as f:
                if f.seek(0, 2) < self._offset:
                    self._offset, self._partial = 0, b""
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records
