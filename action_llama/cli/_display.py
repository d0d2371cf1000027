"""
How ``al`` commands show things: aligned tables, short local times,
durations, and one readable line per log record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import click

Show = Callable[[dict[str, Any]], None]
"""
Prints one log record.
"""

#: The colour of each log level on a terminal.
_LEVEL_COLOURS = {
    "INFO": "green",
    "WARN": "yellow",
    "ERROR": "red",
    "CRITICAL": "red",
}


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """
    Lay out ``rows`` under ``headers`` in columns two spaces apart.

    :returns: the lines, headers first, without trailing spaces.
    """
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
        for line in [headers, *rows]
    ]


def parse_iso(text: str) -> float:
    """
    The POSIX time of an ISO 8601 time stamp (``...Z`` or with an offset).

    :raises ValueError: if ``text`` is not one.
    """
    return datetime.fromisoformat(text).timestamp()


def short_time(ts: float | None, now: float) -> str:
    """
    ``ts`` in local time, as short as is clear: ``14:05`` today, else
    ``Mar 04 14:05``; ``-`` for ``None``.
    """
    if ts is None:
        return "-"
    moment = time.localtime(ts)
    if time.strftime("%Y-%m-%d", moment) == time.strftime(
        "%Y-%m-%d", time.localtime(now)
    ):
        return time.strftime("%H:%M", moment)
    return time.strftime("%b %d %H:%M", moment)


def duration(seconds: float | None) -> str:
    """
    A duration as a person reads it: ``850ms``, ``12.3s``, ``4m05s``,
    ``2h07m``; ``-`` for ``None``.
    """
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def one_line(text: str | None, limit: int = 60) -> str:
    """
    ``text`` on one line, cut to ``limit`` characters; ``-`` if empty.
    """
    if not text:
        return "-"
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def record_line(record: Mapping[str, Any], colour: bool) -> str:
    """
    One readable line for a log record, agent's or scheduler's:
    ``HH:MM:SS LEVEL instance message``.

    The time is local. Scheduler records have no instance; the last part of
    their source stands in for it.

    :param colour: colour the level (for a terminal).
    """
    level = str(record.get("level", "info")).upper()
    shown_level = level.ljust(5)
    if colour and level in _LEVEL_COLOURS:
        shown_level = click.style(shown_level, fg=_LEVEL_COLOURS[level])
    who = record.get("instance") or str(record.get("source") or "-").rsplit(".", 1)[-1]
    return f"{_record_time(record)} {shown_level} {who} {record.get('message', '')}"


def _record_time(record: Mapping[str, Any]) -> str:
    """
    A record's local ``HH:MM:SS``, from ``ts`` or else ``time``.
    """
    ts = record.get("ts")
    if not isinstance(ts, int | float):
        try:
            ts = parse_iso(str(record.get("time")))
        except ValueError:
            return "--:--:--"
    return time.strftime("%H:%M:%S", time.localtime(ts))


def record_printer(raw: bool, colour: bool) -> Show:
    """
    How log records are printed: as their stored JSON line, or as one
    readable line (`record_line`).
    """

    def show(record: dict[str, Any]) -> None:
        if raw:
            click.echo(json.dumps(record, default=str))
        else:
            click.echo(record_line(record, colour), color=colour)

    return show
