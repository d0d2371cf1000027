"""
Helpers for tests that start real runs with `ProcessRuntime`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from twisted.internet import reactor

from action_llama.runtime import LogLine, ProcessRuntime, RunExit, RunSpec


def make_runtime(tmp_path: Path) -> ProcessRuntime:
    """
    A runtime on the real reactor with a short kill grace period.
    """
    return ProcessRuntime(reactor, tmp_path / "state", kill_grace=0.5)


def make_spec(
    tmp_path: Path,
    pre: Sequence[str] = (),
    post: Sequence[str] = (),
    *,
    instance_id: str = "demo-a1b2",
    models: Sequence[Mapping[str, Any]] = (),
    timeout: float = 10.0,
    credential_refs: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
) -> RunSpec:
    """
    The spec of a run of agent ``demo`` with the given hooks.
    """
    return RunSpec(
        instance_id=instance_id,
        agent_name="demo",
        run_dir=tmp_path / "state" / "runs" / instance_id,
        env=env if env is not None else {"AL_RUN_SECRET": "s3cret"},
        run_file={
            "agent": "demo",
            "hooks": {"pre": list(pre), "post": list(post)},
            "timeout": timeout,
            "models": list(models),
            "trigger": {"type": "manual"},
        },
        timeout=timeout,
        credential_refs=credential_refs,
    )


async def run_to_end(
    runtime: ProcessRuntime, spec: RunSpec
) -> tuple[RunExit, list[LogLine]]:
    """
    Start a run and wait for its end.

    :returns: how it ended and every line it wrote.
    """
    lines: list[LogLine] = []
    result = await runtime.start(spec, lines.append).finished
    return result, lines


def messages(lines: Sequence[LogLine]) -> list[str]:
    """
    The text of each line.
    """
    return [line.message for line in lines]
