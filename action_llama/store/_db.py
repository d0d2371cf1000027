"""
The project database: one SQLite file, one writer thread, group commit.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from attrs import frozen
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._errors import DatabaseUnavailable
from ._schema import MIGRATIONS, migrate

T = TypeVar("T")

Operation = Callable[[sqlite3.Connection], T]
"""
Work for the database: called with the connection inside a transaction (a
savepoint of it). It must not begin, commit or roll back transactions itself,
nor call ``executescript`` (which commits).
"""


@frozen
class _Job:
    """
    An operation waiting for the writer thread, and the Deferred it fires.
    """

    operation: Operation[Any]
    done: Deferred[Any]


_Outcome = tuple[Deferred[Any], bool, Any]
"""
A finished job: its Deferred, whether it succeeded, and its result or Failure.
"""

_UNAVAILABLE = {
    "new": "has not been started",
    "starting": "is still starting",
    "closing": "is closing",
    "closed": "is closed",
}
"""
Why ``run`` refuses an operation, by state.
"""

_STOP = object()
"""
Put on the queue by ``close``: the writer finishes what is before it and ends.
"""


def _connect(path: str, busy_timeout: float) -> sqlite3.Connection:
    """
    Open ``path`` in autocommit mode with the settings the store relies on.

    :raises sqlite3.Error: if the file cannot be opened, or cannot use WAL.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode != "wal":
            raise sqlite3.OperationalError(
                f"{path} cannot use write-ahead logging (journal mode {mode!r})"
            )
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {round(busy_timeout * 1000):d}")
    except BaseException:
        conn.close()
        raise
    return conn


class Database:
    """
    The project's SQLite database, served by one writer thread.

    Every operation is a function of the connection, submitted with
    :meth:`run`. The writer thread takes every operation already waiting, runs
    each inside its own savepoint of one transaction, commits once, and only
    then fires their Deferreds on the reactor. Under load many operations share
    one commit, and so one fsync; one operation that fails is rolled back alone
    and fails alone.

    The writer is a plain ``threading.Thread`` reading a ``queue.SimpleQueue``,
    not a one-thread ``ThreadPool``: group commit needs to see every waiting
    operation at once, and a pool hands its worker one callable at a time, so
    it would need this queue anyway. The thread is a daemon: if the process
    exits without :meth:`close`, nothing acknowledged is lost (a Deferred fires
    only after its commit), and SQLite's write-ahead log keeps the file whole.

    The connection uses WAL, ``synchronous = FULL`` (a committed write survives
    power loss, which a webhook's 2xx promises) and foreign keys.

    :ivar path: the database file.
    """

    log = Logger()

    def __init__(
        self,
        path: str | os.PathLike[str],
        reactor: IReactorFromThreads,
        *,
        busy_timeout: float = 5.0,
    ) -> None:
        """
        :param path: the database file; its directory must exist.
        :param reactor: where results are delivered.
        :param busy_timeout: seconds to wait for another process's write lock.
        """
        self.path = os.fspath(path)
        self._reactor = reactor
        self._busy_timeout = busy_timeout
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._state: Literal["new", "starting", "open", "closing", "closed"] = "new"
        self._close_waiters: list[Deferred[None]] = []
        self._commits = 0

    @property
    def commits(self) -> int:
        """
        How many transactions the writer thread has committed since start, not
        counting migrations.
        """
        return self._commits

    def start(self) -> Deferred[None]:
        """
        Start the writer thread, which opens the file and migrates it.

        :returns: a Deferred that fires with ``None`` once operations can be
            submitted. It fails with ``SchemaTooNew`` if the file is newer than
            this code, or with ``sqlite3.Error`` if it cannot be opened or
            migrated; the database is then closed.
        :raises RuntimeError: if called twice.
        """
        if self._state != "new":
            raise RuntimeError(f"{self.path} was already started")
        self._state = "starting"
        started: Deferred[None] = Deferred()
        threading.Thread(
            target=self._serve,
            args=(started,),
            name=f"action-llama database {self.path}",
            daemon=True,
        ).start()
        return started

    def run(self, operation: Operation[T]) -> Deferred[T]:
        """
        Submit ``operation`` to the writer thread.

        :returns: a Deferred that fires with the operation's result once the
            transaction holding it has committed. It fails with what the
            operation raised (its changes are rolled back, its batch-mates
            unaffected), with ``sqlite3.Error`` if the commit itself failed, or
            with ``DatabaseUnavailable`` if the database is not open.
        """
        if self._state != "open":
            why = _UNAVAILABLE[self._state]
            return fail(DatabaseUnavailable(f"the database {self.path} {why}"))
        done: Deferred[T] = Deferred()
        self._queue.put(_Job(operation, done))
        return done

    def close(self) -> Deferred[None]:
        """
        Stop taking operations, finish those already submitted, then close the
        file.

        :returns: a Deferred that fires with ``None`` once the writer thread
            has closed the connection (at once if it never started). It fails
            with ``sqlite3.Error`` if closing the connection failed.
        """
        if self._state in ("new", "closed"):
            self._state = "closed"
            return succeed(None)
        if self._state != "closing":
            self._state = "closing"
            self._queue.put(_STOP)
        closed: Deferred[None] = Deferred()
        self._close_waiters.append(closed)
        return closed

    def run_sync(self, operation: Operation[T]) -> T:
        """
        Run ``operation`` on a short-lived connection of its own, in the
        calling thread, for tools that have no reactor (``al stats`` offline).

        The file is migrated first. This works while the service runs: WAL
        lets readers go on beside the writer. Never call it from the reactor
        thread of a running service, which it would block.

        :returns: the operation's result, once committed.
        :raises: what the operation raised (its changes rolled back), or
            ``sqlite3.Error``.
        """
        conn = _connect(self.path, self._busy_timeout)
        try:
            migrate(conn, MIGRATIONS)
            conn.execute("BEGIN")
            try:
                result = operation(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        finally:
            conn.close()

    def _serve(self, started: Deferred[None]) -> None:
        """
        The writer thread: open and migrate, then commit batches until
        ``_STOP``.
        """
        try:
            conn = _connect(self.path, self._busy_timeout)
            try:
                applied = migrate(conn, MIGRATIONS)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            self._reactor.callFromThread(self._not_opened, started, Failure())
            self._reactor.callFromThread(self._ended, None)
            return
        self._reactor.callFromThread(self._opened, started, applied)
        stopping = False
        while not stopping:
            jobs = []
            for item in self._take():
                if isinstance(item, _Job):
                    jobs.append(item)
                else:
                    stopping = True
            if jobs:
                outcomes = self._commit(conn, deque(jobs))
                self._reactor.callFromThread(_deliver, outcomes)
        try:
            conn.close()
        except BaseException:
            self._reactor.callFromThread(self._ended, Failure())
        else:
            self._reactor.callFromThread(self._ended, None)

    def _take(self) -> list[_Job | object]:
        """
        Wait for the next item on the queue, then take every one waiting.
        """
        items = [self._queue.get()]
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def _commit(self, conn: sqlite3.Connection, jobs: deque[_Job]) -> list[_Outcome]:
        """
        Run ``jobs`` in as few transactions as possible: one, unless SQLite
        itself ends a transaction part-way.
        """
        outcomes: list[_Outcome] = []
        while jobs:
            outcomes.extend(self._transaction(conn, jobs))
        return outcomes

    def _transaction(
        self, conn: sqlite3.Connection, jobs: deque[_Job]
    ) -> list[_Outcome]:
        """
        Take jobs from the front of ``jobs`` into one transaction, each in its
        own savepoint, and commit it.

        Some errors (a full disk, an I/O error) make SQLite roll back the whole
        transaction: then every job already in it fails with that error, and
        the jobs not yet taken are left in ``jobs`` for a new transaction.
        """
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            failure = Failure()
            taken = list(jobs)
            jobs.clear()
            return [(job.done, False, failure) for job in taken]
        outcomes: list[_Outcome] = []
        while jobs:
            job = jobs.popleft()
            try:
                conn.execute("SAVEPOINT job")
                result = job.operation(conn)
                conn.execute("RELEASE job")
            except BaseException:
                failure = Failure()
                try:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                except sqlite3.Error:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    lost = [done for done, _, _ in outcomes] + [job.done]
                    return [(done, False, failure) for done in lost]
                outcomes.append((job.done, False, failure))
            else:
                outcomes.append((job.done, True, result))
        try:
            conn.execute("COMMIT")
        except BaseException:
            failure = Failure()
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [(done, False, failure) for done, _, _ in outcomes]
        self._commits += 1
        return outcomes

    def _opened(self, started: Deferred[None], applied: list[int]) -> None:
        """
        In the reactor: the writer thread has opened and migrated the file.
        """
        for version in applied:
            self.log.info(
                "Migrated {path} to schema version {version}",
                path=self.path,
                version=version,
            )
        if self._state == "starting":
            self._state = "open"
        started.callback(None)

    def _not_opened(self, started: Deferred[None], failure: Failure) -> None:
        """
        In the reactor: the writer thread could not open or migrate the file.
        """
        started.errback(failure)

    def _ended(self, failure: Failure | None) -> None:
        """
        In the reactor: the writer thread has ended, and the file is closed.
        """
        self._state = "closed"
        waiters, self._close_waiters = self._close_waiters, []
        for closed in waiters:
            if failure is None:
                closed.callback(None)
            else:
                closed.errback(failure)


def _deliver(outcomes: list[_Outcome]) -> None:
    """
    In the reactor: fire the Deferreds of a committed batch, in the order
    their operations were submitted.
    """
    for done, succeeded, result in outcomes:
        if succeeded:
            done.callback(result)
        else:
            done.errback(result)
