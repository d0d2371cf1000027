"""
Fixtures of the gateway tests: a copied quick-start project, a clock, and
services started on it, stopped after the test, whose logs must then hold no
API key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from tests.helpers import QUICKSTART, copy_project

from .support import Gateway, assert_no_key_in_logs, start_gateway


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    """
    A fresh copy of the quick-start project, its heartbeat moved to once a
    year so that moving the clock by hours starts no run.
    """
    root = copy_project(QUICKSTART, tmp_path / "project")
    config = root / "agents" / "heartbeat" / "config.toml"
    text = config.read_text()
    assert 'schedule = "* * * * *"' in text
    config.write_text(text.replace("* * * * *", "0 0 1 1 *"))
    return root


@pytest.fixture
def clock() -> Clock:
    """
    The time of the services under test.
    """
    return Clock()


class Launcher:
    """
    Starts services on the test's project, and remembers them to stop them.
    """

    def __init__(self, root: Path, clock: Clock) -> None:
        self._root = root
        self._clock = clock
        self.started: list[Gateway] = []

    async def __call__(
        self, *, expose: bool = False, web_ui: bool = False, log_requests: bool = False
    ) -> Gateway:
        """
        Start the service on the project and wait until it listens.
        """
        running = await start_gateway(
            self._root,
            self._clock,
            expose=expose,
            web_ui=web_ui,
            log_requests=log_requests,
        )
        self.started.append(running)
        return running


@pytest_twisted.async_yield_fixture
async def launch(project_root: Path, clock: Clock) -> AsyncIterator[Launcher]:
    """
    Starts services for the test; afterwards stops those still running and
    searches the log files for every key any of them has had.
    """
    launcher = Launcher(project_root, clock)
    yield launcher
    for running in launcher.started:
        if running.service.running:
            await running.stop()
    keys = [key for running in launcher.started for key in running.keys_used]
    assert_no_key_in_logs(project_root, keys)


@pytest_twisted.async_yield_fixture
async def gateway(launch: Launcher) -> AsyncIterator[Gateway]:
    """
    The service running on the project.
    """
    yield await launch()
