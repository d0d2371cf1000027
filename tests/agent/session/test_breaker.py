"""
Tests for the model breaker and its shared file.
"""

from __future__ import annotations

import json
from pathlib import Path

from twisted.internet.task import Clock

from action_llama.agent.session._breaker import COOLDOWN, Breaker


def ignore(warning: str) -> None:
    """
    Drop a warning the test does not look at.
    """


def test_tripped_model_is_skipped_for_the_cooldown(tmp_path: Path) -> None:
    """
    A tripped model is skipped until 60 s later, then may be used again.
    """
    clock = Clock()
    clock.advance(1000)
    breaker = Breaker(tmp_path / "b.json", clock, ignore)

    until = breaker.trip("m")

    assert until == 1000 + COOLDOWN
    assert breaker.skipped_until("m") == until
    assert breaker.skipped_until("other") is None
    clock.advance(COOLDOWN)
    assert breaker.skipped_until("m") is None


def test_state_is_shared_through_the_file(tmp_path: Path) -> None:
    """
    Two breakers on one file (two runs) see each other's trips, and a trip
    drops the entries that have expired.
    """
    clock = Clock()
    first = Breaker(tmp_path / "b.json", clock, ignore)
    second = Breaker(tmp_path / "b.json", clock, ignore)

    first.trip("old")
    clock.advance(COOLDOWN + 1)
    second.trip("new")

    assert first.skipped_until("new") == 2 * COOLDOWN + 1
    assert json.loads((tmp_path / "b.json").read_text()) == {"new": 2 * COOLDOWN + 1}
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o600


def test_damaged_file_counts_as_empty(tmp_path: Path) -> None:
    """
    A file that is not a JSON object of times is read as no trips, and is
    rewritten on the next one.
    """
    path = tmp_path / "b.json"
    path.write_text('{"m": "soon", "n": ')
    breaker = Breaker(path, Clock(), ignore)

    assert breaker.skipped_until("m") is None
    breaker.trip("m")
    assert json.loads(path.read_text()) == {"m": COOLDOWN}


def test_unusable_file_falls_back_to_memory(tmp_path: Path) -> None:
    """
    When the file cannot be opened, the breaker warns once and keeps its
    state for this run only.
    """
    warnings: list[str] = []
    breaker = Breaker(tmp_path / "missing" / "b.json", Clock(), warnings.append)

    breaker.trip("m")

    assert breaker.skipped_until("m") == COOLDOWN
    assert len(warnings) == 1 and "for this run only" in warnings[0]
