"""
Shared pieces of the benchmark scripts: generated projects and a running
service in a child process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "examples" / "quickstart"


def generate_project(
    root: Path,
    agents: int,
    schedule: str = "H * * * *",
    hook: str = "true",
    project_toml: str = "",
) -> Path:
    """
    Write a project of ``agents`` script agents under ``root``.
    """
    (root / "agents").mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(project_toml)
    for i in range(agents):
        agent = root / "agents" / f"agent-{i:04d}"
        agent.mkdir(exist_ok=True)
        (agent / "SKILL.md").write_text(f"---\ndescription: agent {i}\n---\nRun.\n")
        (agent / "config.toml").write_text(
            f'schedule = "{schedule}"\ntimeout = 60\n\n[hooks]\npre = ["{hook}"]\n'
        )
    return root


def rss_kib(pid: int) -> int:
    """
    The resident set size of process ``pid`` in KiB.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class RunningService:
    """
    ``al start`` on a project in a child process, with a private HOME.
    """

    def __init__(self, project: Path, *extra: str) -> None:
        self.home = tempfile.mkdtemp(prefix="al-bench-home-")
        env = dict(os.environ, HOME=self.home)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "action_llama",
                "start",
                "-p",
                str(project),
                "--port",
                "0",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            match = re.search(r"Gateway listening on (http://\S+)", line)
            if match:
                return match.group(1)
        raise RuntimeError("the service ended before it listened")

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=60)
