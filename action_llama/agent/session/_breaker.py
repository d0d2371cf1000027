"""
The circuit breaker that skips a rate-limited or overloaded model for a while.

A model that answers 429, 503 or 529 is skipped for `COOLDOWN` seconds, and
not only by the run that saw it: every run of the service is a separate
process, and they all share the provider's limits. So the breaker's state is
a small JSON object in the service's state directory,
``<state_dir>/model-breaker.json``, mapping a model's key to the time until
which it is skipped; each access holds ``fcntl.flock`` on the file (shared to
read, exclusive to change), and stale entries are dropped on every change.

Why a file rather than the gateway: the state is a handful of timestamps
that any run may read before every request, so a local file costs far less
than a round trip to the service, keeps working whatever the service is
doing, and needs no new route; ``flock`` makes each read-modify-write atomic
across processes. The times are the clock's POSIX seconds, so an entry
means the same to every run and expires by itself after a restart. When the
file cannot be used (a run as another OS user cannot reach the state
directory), the breaker keeps its state in memory, for this run only.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path

from twisted.internet.interfaces import IReactorTime

#: Seconds a rate-limited or overloaded model is skipped.
COOLDOWN = 60.0

#: The breaker file's name in the state directory.
FILE_NAME = "model-breaker.json"


class Breaker:
    """
    Which models are skipped until when.

    :param path: the shared file, or ``None`` to keep the state in memory.
    :param clock: gives the time.
    :param warn: called once with a sentence if the file cannot be used.
    """

    def __init__(
        self, path: Path | None, clock: IReactorTime, warn: Callable[[str], None]
    ) -> None:
        self._path = path
        self._clock = clock
        self._warn = warn
        self._memory: dict[str, float] = {}

    def skipped_until(self, key: str) -> float | None:
        """
        Until when the model ``key`` is skipped.

        :returns: a time in the future, or ``None`` if the model may be used.
        """
        until = self._update(None).get(key)
        return until if until is not None and until > self._clock.seconds() else None

    def trip(self, key: str) -> float:
        """
        Skip the model ``key`` for `COOLDOWN` seconds from now.

        :returns: the time until which it is skipped.
        """
        until = self._clock.seconds() + COOLDOWN
        self._update((key, until))
        return until

    def _update(self, entry: tuple[str, float] | None) -> dict[str, float]:
        """
        Read the state, adding ``entry`` to it if given.

        :returns: the state as it now is.
        """
        if self._path is not None:
            try:
                return self._update_file(self._path, entry)
            except OSError as e:
                self._warn(
                    f"the model breaker file {self._path} cannot be used ({e});"
                    " rate limits are remembered for this run only"
                )
                self._path = None
        if entry is not None:
            self._memory[entry[0]] = entry[1]
        return self._memory

    def _update_file(
        self, path: Path, entry: tuple[str, float] | None
    ) -> dict[str, float]:
        """
        `_update` on the shared file, under its lock.
        """
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+", encoding="utf-8") as handle:
            fcntl.flock(fd, fcntl.LOCK_SH if entry is None else fcntl.LOCK_EX)
            state = _parse(handle.read())
            if entry is not None:
                now = self._clock.seconds()
                state = {k: v for k, v in state.items() if v > now}
                state[entry[0]] = entry[1]
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(state))
                handle.flush()
            return state


def _parse(text: str) -> dict[str, float]:
    """
    The breaker state in ``text``; what is not a valid entry is ignored.
    """
    try:
        state = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(state, dict):
        return {}
    return {k: float(v) for k, v in state.items() if isinstance(v, int | float)}
