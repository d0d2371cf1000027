"""
Fixtures of the ``al`` command tests: a project whose service runs in this
process, and one whose gateway is not running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_twisted
from twisted.internet import reactor

from action_llama.config import load_project
from action_llama.service import ServiceOptions, makeService

from .support import Live, closed_port, ready, set_port, write_project


@pytest_twisted.async_yield_fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    """
    The test project, served on a free port that its config then names, so
    ``al`` finds it as a user's would.
    """
    root = write_project(tmp_path / "live", 8080)
    service = makeService(ServiceOptions(load_project(root), port=0), reactor)
    service.startService()
    try:
        await ready(service.getServiceNamed("scheduler"))
        port = await service.getServiceNamed("gateway").when_listening()
        set_port(root, port.getHost().port)
        yield Live(root, f"http://127.0.0.1:{port.getHost().port}", service)
    finally:
        scheduler = service.getServiceNamed("scheduler")
        for name in scheduler.agent_names():
            scheduler.kill_agent(name)
        await service.stopService()


@pytest_twisted.async_fixture
async def offline(tmp_path: Path) -> Path:
    """
    The test project, its gateway port one that nothing listens on.
    """
    return write_project(tmp_path / "offline", await closed_port())
