"""
History retention: once a day, delete run history, trigger history, webhook
receipts and run directories older than ``historyRetentionDays``.

Deletion happens in small batches on the database's writer thread, and the
run directories are removed in a worker thread, so neither blocks the
reactor for long.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from twisted.application.service import Service
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThread
from twisted.logger import Logger

from .store import Store
from .store._receipts import ReceiptStore

#: Seconds between two prunings.
DAY = 86400.0


def remove_old_run_dirs(runs_dir: Path, before_ts: float) -> int:
    """
    Delete the run directories under ``runs_dir`` last changed before
    ``before_ts``.

    :returns: how many were removed.
    """
    removed = 0
    if not runs_dir.is_dir():
        return removed
    for run_dir in runs_dir.iterdir():
        try:
            if run_dir.is_dir() and run_dir.stat().st_mtime < before_ts:
                shutil.rmtree(run_dir, ignore_errors=True)
                removed += 1
        except FileNotFoundError:
            continue
    return removed


class RetentionService(Service):
    """
    Prunes old history once a day, the first time shortly after start.

    :param days: how many days of history to keep.
    :param runs_dir: where run directories live.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        store: Store,
        receipts: ReceiptStore,
        runs_dir: Path,
        days: int,
    ) -> None:
        self._clock = clock
        self._store = store
        self._receipts = receipts
        self._runs_dir = runs_dir
        self._days = days
        self._loop = LoopingCall(self._prune_logged)
        self._loop.clock = clock
        self._current: Deferred[None] | None = None
        self._first: IDelayedCall | None = None

    def startService(self) -> None:
        super().startService()
        self._loop.start(DAY, now=False)
        self._first = self._clock.callLater(60, self._prune_logged)

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        if self._first is not None and self._first.active():
            self._first.cancel()
        if self._loop.running:
            self._loop.stop()
        return self._current

    def _prune_logged(self) -> None:
        """
        Prune, logging (not raising) a failure so the daily loop carries on.
        """
        if self._current is not None:
            return
        d = ensureDeferred(self.prune())
        self._current = d

        def done(result: object) -> None:
            self._current = None

        d.addErrback(lambda f: self.log.failure("Pruning old history failed", f))
        d.addBoth(done)

    async def prune(self) -> None:
        """
        Delete everything older than the retention period.
        """
        cutoff = self._clock.seconds() - self._days * DAY
        history = await self._store.prune(cutoff)
        receipts = await self._receipts.prune(cutoff)
        run_dirs = await deferToThread(remove_old_run_dirs, self._runs_dir, cutoff)
        if history or receipts or run_dirs:
            self.log.info(
                "Pruned history older than {days} days: {history} history rows, "
                "{receipts} webhook receipts, {run_dirs} run directories",
                days=self._days,
                history=history,
                receipts=receipts,
                run_dirs=run_dirs,
            )
