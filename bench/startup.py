"""
Time from ``al start`` to the first answered ``/health``, and idle RSS, for
the example project and for a generated project of 500 script agents.

Run: ``python bench/startup.py`` (targets: under 1.5 s to the first /health
and under 60 MiB idle RSS with 500 agents).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import QUICKSTART, RunningService, generate_project, rss_kib

ROUNDS = 5
IDLE_SECONDS = 3.0


def measure(project: Path) -> tuple[float, int]:
    """
    Start the service once: seconds to the first /health, then idle RSS.
    """
    service = RunningService(project)
    try:
        with urllib.request.urlopen(service.url + "/health") as response:
            response.read()
        elapsed = time.perf_counter() - service.started
        time.sleep(IDLE_SECONDS)
        return elapsed, rss_kib(service.process.pid)
    finally:
        service.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        projects = {
            "examples/quickstart (3 agents)": QUICKSTART,
            "generated (500 agents)": generate_project(Path(tmp) / "big", 500),
        }
        for name, project in projects.items():
            results = [measure(project) for _ in range(ROUNDS)]
            times = sorted(t for t, _ in results)
            rss = max(r for _, r in results)
            print(
                f"{name}: first /health median {statistics.median(times):.3f} s "
                f"(min {times[0]:.3f}, max {times[-1]:.3f}, {ROUNDS} starts); "
                f"idle RSS {rss / 1024:.1f} MiB after {IDLE_SECONDS:.0f} s"
            )


if __name__ == "__main__":
    main()
