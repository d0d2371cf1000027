"""
In-process publish/subscribe of what changes: scheduler and agent state,
and log lines.

Publishing is synchronous and cheap: each subscriber is called in turn, and
one that raises is logged and kept, so one bad subscriber never stops the
others (or the scheduler that published).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import frozen
from twisted.logger import Logger

Subscriber = Callable[["Event"], None]


@frozen
class Event:
    """
    Something that changed.

    :ivar topic: what kind of change: ``"state"`` for scheduler and agent
        state, ``"log"`` for a log line of an agent.
    :ivar data: the change's fields, JSON-serialisable.
    """

    topic: str
    data: dict[str, Any]


class EventHub:
    """
    The publish/subscribe point the scheduler writes to and streams read.
    """

    log = Logger()

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscriber]] = {}

    def subscribe(self, topic: str, subscriber: Subscriber) -> Callable[[], None]:
        """
        Call ``subscriber`` with every event of ``topic`` from now on.

        :returns: a function that ends the subscription; calling it twice is
            harmless.
        """
        subscribers = self._subscribers.setdefault(topic, [])
        subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in subscribers:
                subscribers.remove(subscriber)

        return unsubscribe

    def subscriber_count(self, topic: str) -> int:
        """
        How many subscribers ``topic`` has now.
        """
        return len(self._subscribers.get(topic, ()))

    def publish(self, topic: str, **data: Any) -> None:
        """
        Tell every subscriber of ``topic`` about a change.
        """
        subscribers = self._subscribers.get(topic)
        if not subscribers:
            return
        event = Event(topic, data)
        for subscriber in list(subscribers):
            try:
                subscriber(event)
            except Exception:
                # A plain try costs nothing when nothing fails; publishing
                # is on every request's path.
                self.log.failure(
                    "Subscriber {subscriber!r} failed on a {topic} event",
                    subscriber=subscriber,
                    topic=topic,
                )
