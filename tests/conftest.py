"""
Shared fixtures: every test runs with a private ``$HOME`` so that the
credential store and the API key never touch the developer's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """
    Point ``$HOME`` at a fresh directory for the duration of one test.
    """
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("AL_DASHBOARD_SECRET", raising=False)
    return home
