"""
A result that arrives once and that any number of callers may wait for.

A plain ``Deferred`` has one chain: the first caller that adds a callback
changes what the next one sees, and a failure that nobody consumes is
reported as unhandled when it is garbage collected. ``Once`` hands each
waiter a Deferred of its own.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

T = TypeVar("T")


class Once(Generic[T]):
    """
    Holds one outcome (a value or a failure) for every waiter, early or late.
    """

    def __init__(self) -> None:
        self._outcome: T | Failure | None = None
        self._settled = False
        self._waiting: list[Deferred[T]] = []

    @property
    def settled(self) -> bool:
        """
        Whether the outcome is known.
        """
        return self._settled

    def settle(self, outcome: T | Failure) -> None:
        """
        Record the outcome and tell everyone waiting; later calls are ignored.
        """
        if self._settled:
            return
        self._outcome, self._settled = outcome, True
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            self._fire(d)

    def follow(self, d: Deferred[T]) -> None:
        """
        Settle with whatever ``d`` fires with, consuming its failure.
        """
        d.addBoth(self.settle)

    def wait(self) -> Deferred[T]:
        """
        A new Deferred that fires with the outcome, now or once it is known.
        """
        d: Deferred[T] = Deferred()
        if self._settled:
            self._fire(d)
        else:
            self._waiting.append(d)
        return d

    def _fire(self, d: Deferred[T]) -> None:
        if isinstance(self._outcome, Failure):
            d.errback(self._outcome)
        else:
            d.callback(self._outcome)  # type: ignore[arg-type]
