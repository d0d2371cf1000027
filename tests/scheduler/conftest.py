"""
Fixtures for the scheduler tests: harnesses that are always closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_twisted
from twisted.internet.task import Clock

from action_llama.config import ProjectConfig
from tests.scheduler.support import ControlledRuntime, Harness, OpenHarness


@pytest_twisted.async_yield_fixture
async def open_harness() -> AsyncIterator[OpenHarness]:
    """
    Start harnesses for a test, and close every one of them after it.
    """
    opened: list[Harness] = []

    async def open_(
        project: ProjectConfig,
        clock: Clock | None = None,
        runtime: ControlledRuntime | None = None,
    ) -> Harness:
        harness = Harness(project, clock, runtime)
        opened.append(harness)
        return await harness.start()

    yield open_
    for harness in reversed(opened):
        await harness.close()
