"""
Fixtures of the integration tests: projects started on the real reactor,
stopped (and their runs killed) when the test ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest_twisted

from .harness import Gate, RunningProject, start_project, stop_all


class Launcher:
    """
    Starts projects and makes gates for one test, and cleans up after it.
    """

    def __init__(self, tmp_path: Path) -> None:
        self._tmp_path = tmp_path
        self.projects: list[RunningProject] = []
        self.gates: list[Gate] = []

    async def __call__(
        self,
        agents: Mapping[str, Mapping[str, Any]],
        project: Mapping[str, Any] | None = None,
    ) -> RunningProject:
        """
        Write and start a project of script agents (see `start_project`).
        """
        root = self._tmp_path / f"project-{len(self.projects)}"
        running = await start_project(root, agents, project)
        self.projects.append(running)
        return running

    def gate(self, name: str) -> Gate:
        """
        A new gate for hooks to wait on.
        """
        gate = Gate(self._tmp_path / f"gate-{name}")
        self.gates.append(gate)
        return gate


@pytest_twisted.async_yield_fixture
async def launch(tmp_path: Path) -> AsyncIterator[Launcher]:
    """
    Start projects for a test; kill their runs and stop them afterwards.
    """
    launcher = Launcher(tmp_path)
    yield launcher
    await stop_all(launcher.projects, launcher.gates)
