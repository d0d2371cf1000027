"""
Per-agent logs: JSON lines in ``<project>/.al/logs/<agent>-YYYY-MM-DD.log``.

Every line a run writes, and every line the scheduler writes about a run,
becomes one record ``{"time", "ts", "level", "agent", "instance",
"message", ...}``. Records are appended to the agent's file for the day, kept
in a short in-memory list of recent lines across agents (the dashboard's
"Recent activity"), and published as ``log`` events for live streams.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict, deque
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from twisted.internet.interfaces import IReactorTime

from .events import EventHub

LEVELS = ("debug", "info", "warn", "error")

#: How many per-agent files stay open at once; older ones are closed.
_OPEN_FILES = 64


def iso_time(ts: float) -> str:
    """
    A POSIX time as ISO 8601 in UTC with milliseconds.
    """
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log_path(directory: Path, agent: str, day: str) -> Path:
    """
    The file that holds ``agent``'s records of ``day`` (``YYYY-MM-DD``).
    """
    return directory / f"{agent}-{day}.log"


class AgentLogs:
    """
    Writes and reads the per-agent log files.

    :param directory: the project's ``.al/logs`` directory.
    :param events: where each record is published, topic ``log``.
    :param clock: the time stamped on records.
    :param recent: how many records across agents ``recent()`` keeps.
    """

    def __init__(
        self,
        directory: Path,
        events: EventHub,
        clock: IReactorTime,
        recent: int = 20,
    ) -> None:
        self.directory = directory
        self._events = events
        self._clock = clock
        self._recent: deque[dict[str, Any]] = deque(maxlen=recent)
        self._files: OrderedDict[tuple[str, str], IO[str]] = OrderedDict()

    def write(
        self,
        agent: str,
        instance: str | None,
        level: str,
        message: str,
        **fields: Any,
    ) -> dict[str, Any]:
        """
        Record one line of ``agent``'s log.

        :returns: the record as written.
        """
        ts = self._clock.seconds()
        record: dict[str, Any] = {
            "time": iso_time(ts),
            "ts": ts,
            "level": level if level in LEVELS else "info",
            "agent": agent,
            "instance": instance,
            "message": message,
        }
        record.update(fields)
        day = time.strftime("%Y-%m-%d", time.localtime(ts))
        handle = self._file(agent, day)
        handle.write(json.dumps(record, default=str) + "\n")
        handle.flush()
        self._recent.append(record)
        self._events.publish("log", record=record)
        return record

    def _file(self, agent: str, day: str) -> IO[str]:
        """
        The open file for ``agent`` on ``day``, opening it if needed.
        """
        key = (agent, day)
        handle = self._files.get(key)
        if handle is not None:
            self._files.move_to_end(key)
            return handle
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = open(log_path(self.directory, agent, day), "a", encoding="utf-8")
        self._files[key] = handle
        while len(self._files) > _OPEN_FILES:
            _, oldest = self._files.popitem(last=False)
            oldest.close()
        return handle

    def recent(self) -> list[dict[str, Any]]:
        """
        The last records across all agents, oldest first.
        """
        return list(self._recent)

    def tail(
        self, agent: str, count: int = 100, instance: str | None = None
    ) -> list[dict[str, Any]]:
        """
        The last ``count`` records of ``agent`` (of one ``instance`` if
        given), oldest first, read from its newest log files.
        """
        return read_tail(self.directory, agent, count, instance)

    def close(self) -> None:
        """
        Close every open file.
        """
        while self._files:
            _, handle = self._files.popitem()
            handle.close()


def agent_log_files(directory: Path, agent: str) -> list[Path]:
    """
    ``agent``'s log files, oldest day first.
    """
    return sorted(
        directory.glob(f"{agent}-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].log")
    )


def read_tail(
    directory: Path, agent: str, count: int, instance: str | None = None
) -> list[dict[str, Any]]:
    """
    The last ``count`` records of ``agent`` across its files, oldest first.

    Lines that are not JSON (a file edited by hand) are skipped.
    """
    found: list[dict[str, Any]] = []
    for path in reversed(agent_log_files(directory, agent)):
        for line in reversed(_last_lines(path, count * 4 if instance else count)):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if instance is None or record.get("instance") == instance:
                found.append(record)
                if len(found) >= count:
                    return found[::-1]
    return found[::-1]


def _last_lines(path: Path, count: int, block: int = 65536) -> list[str]:
    """
    The last ``count`` lines of a file, reading backwards in blocks so a
    large file costs only what is needed.
    """
    with open(path, "rb") as f:
        f.seek(0, 2)
        end = f.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= count:
            start = max(0, end - block)
            f.seek(start)
            data = f.read(end - start) + data
            end = start
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[-count:]
