"""
Where the service's log events go: one readable line each on the console,
and JSON lines in ``<project>/.al/logs/scheduler-YYYY-MM-DD.log``.

Both are plain ``twisted.logger`` observers. The file observer opens the file
for the day of each event, so a service that runs past midnight starts a new
file without a restart.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from twisted.logger import (
    ILogObserver,
    LogEvent,
    LogLevel,
    formatEvent,
    formatEventAsClassicLogText,
)
from zope.interface import implementer

_LEVEL_NAMES = {
    LogLevel.debug: "DEBUG",
    LogLevel.info: "INFO",
    LogLevel.warn: "WARN",
    LogLevel.error: "ERROR",
    LogLevel.critical: "CRITICAL",
}


def format_console_line(event: LogEvent) -> str:
    """
    One readable line for an event: local time, level, source, message.

    A failure's traceback follows on the next lines, as the person on call
    needs it.
    """
    when = time.strftime("%H:%M:%S", time.localtime(event.get("log_time", 0)))
    level = _LEVEL_NAMES.get(event.get("log_level", LogLevel.info), "INFO")
    system = event.get("log_system")
    source = system if system and system != "-" else _short_namespace(event)
    text = formatEvent(event)
    line = f"{when} {level:<5} {source}: {text}\n"
    failure = event.get("log_failure")
    if failure is not None:
        line += failure.getTraceback()
    return line


def _short_namespace(event: LogEvent) -> str:
    """
    The last part of an event's logger namespace (``scheduler``, ``gateway``).
    """
    namespace: str = event.get("log_namespace", "")
    if namespace == "log_legacy":
        # Twisted's own messages that still go through twisted.python.log.
        return "twisted"
    return namespace.rsplit(".", 1)[-1] or "-"


@implementer(ILogObserver)
class ConsoleObserver:
    """
    Write each event as one readable line to a text stream (the terminal).

    :param stream: where lines go, normally ``sys.stdout``.
    :param min_level: events below this level are not shown.
    """

    def __init__(self, stream: IO[str], min_level: LogLevel = LogLevel.info) -> None:
        self._stream = stream
        self._min_level = min_level

    def __call__(self, event: LogEvent) -> None:
        level = event.get("log_level", LogLevel.info)
        if level < self._min_level:
            return
        if "log_format" not in event and "log_failure" not in event:
            # An event from a legacy emitter with no message; fall back to
            # Twisted's own rendering so nothing is silently dropped.
            text = formatEventAsClassicLogText(event)
            if text:
                self._stream.write(text)
            return
        self._stream.write(format_console_line(event))
        self._stream.flush()


@implementer(ILogObserver)
class DailyJSONFileObserver:
    """
    Append each event as a JSON line to ``<directory>/<prefix>-YYYY-MM-DD.log``.

    The date is the event's local date, so a file holds one calendar day as
    the person reading it counts days. Events marked ``console_only`` (a
    live one-time login link) are meant for the person at the terminal and
    are not written to the file, and neither are debug events (the access
    log among them) unless ``min_level`` asks for them.
    """

    def __init__(
        self,
        directory: Path,
        prefix: str = "scheduler",
        min_level: LogLevel = LogLevel.info,
    ) -> None:
        self._min_level = min_level
        self._directory = directory
        self._prefix = prefix
        self._day = ""
        self._file: IO[str] | None = None

    def path_for_day(self, day: str) -> Path:
        """
        The file that holds the events of ``day`` (``YYYY-MM-DD``).
        """
        return self._directory / f"{self._prefix}-{day}.log"

    def __call__(self, event: LogEvent) -> None:
        if event.get("console_only"):
            return
        if event.get("log_level", LogLevel.info) < self._min_level:
            return
        day = time.strftime("%Y-%m-%d", time.localtime(event.get("log_time", 0)))
        if day != self._day or self._file is None:
            self.close()
            self._directory.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path_for_day(day), "a", encoding="utf-8")
            self._day = day
        self._file.write(json.dumps(event_record(event), default=repr) + "\n")
        self._file.flush()

    def close(self) -> None:
        """
        Close the current day's file, if one is open.
        """
        if self._file is not None:
            self._file.close()
            self._file = None


def event_record(event: LogEvent) -> dict[str, Any]:
    """
    A log event as a flat JSON-able record: time, level, source, the
    rendered message, the event's own fields, and a traceback if any.
    """
    level = event.get("log_level", LogLevel.info)
    record: dict[str, Any] = {
        "time": _iso(event.get("log_time", 0)),
        "level": level.name,
        "source": event.get("log_namespace", "-"),
        "message": formatEvent(event),
    }
    for key, value in event.items():
        if not key.startswith("log_") and key not in record:
            record[key] = value
    failure = event.get("log_failure")
    if failure is not None:
        record["traceback"] = failure.getTraceback()
    return record


def _iso(ts: float) -> str:
    """
    A POSIX time as local ISO 8601 with milliseconds and offset.
    """
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")
