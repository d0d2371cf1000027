"""
How ``al`` shows tables, durations and windows of time.
"""

from __future__ import annotations

import click
import pytest

from action_llama.cli._display import duration, one_line, table
from action_llama.cli.stats import Window


def test_table_aligns_columns_without_trailing_spaces() -> None:
    """
    Each column is as wide as its widest cell, two spaces apart.
    """
    lines = table(("A", "BB"), [["long", "x"], ["s", ""]])
    assert lines == ["A     BB", "long  x", "s"]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "-"), (0.85, "850ms"), (12.34, "12.3s"), (245, "4m05s"), (7620, "2h07m")],
)
def test_durations_read_naturally(seconds: float | None, shown: str) -> None:
    """
    Durations are shown in the largest fitting units.
    """
    assert duration(seconds) == shown


def test_one_line_flattens_and_cuts() -> None:
    """
    Status text is put on one line and cut to its limit.
    """
    assert one_line("a\n  b") == "a b"
    assert one_line("x" * 10, 5) == "xxxx…"
    assert one_line(None) == "-"


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("24h", 86400), ("7d", 604800)]
)
def test_window_parses_minutes_hours_and_days(text: str, seconds: float) -> None:
    """
    ``--since`` takes a number and a unit.
    """
    assert Window().convert(text, None, None) == seconds


def test_window_refuses_other_text() -> None:
    """
    Anything else is a usage error naming the accepted forms.
    """
    with pytest.raises(click.BadParameter, match="30m, 24h or 7d"):
        Window().convert("1.5h", None, None)
