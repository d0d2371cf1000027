"""
Server-Sent Events: the status stream and the per-agent log streams.

Each stream is a long-lived request fed by a Deferred that fires only when
the stream ends; Klein cancels that Deferred when the client goes away, and
its canceller removes the client at once.

The status stream sends the whole status snapshot as each event. Changes
that arrive together are coalesced: a change only marks the stream dirty,
and one snapshot is built, serialised once and sent to every client on the
next turn of the reactor. The snapshot also carries the recent log lines,
so new log lines change it too; as they can come thousands a second, they
are coalesced over ``LOG_COALESCE`` seconds instead. Every event has an id
and is kept in a bounded replay buffer, so a client that reconnects with
``Last-Event-ID`` is sent exactly what it missed, or a ``reset`` event with a
fresh snapshot when it has fallen further behind than the buffer reaches.
While no client is connected no event is built; the next client to connect
is the first to get one, so a client that reconnects still sees the changes
made while it was away.

A client that cannot keep up is never sent a backlog. Each client is a
push producer on its connection: while the connection's send buffer is full
it is paused, and it is only marked as owing the latest event; when it
resumes it gets that one event. A client that stays paused for longer than
``SLOW_CLIENT_TIMEOUT`` is disconnected, so memory stays bounded.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IPushProducer,
    IReactorTime,
)
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web.iweb import IRequest
from zope.interface import implementer

#: Seconds between keep-alive comments.
KEEPALIVE_INTERVAL = 15.0

#: Seconds a client may stay unable to receive before it is disconnected.
SLOW_CLIENT_TIMEOUT = 30.0

#: How many status events the replay buffer keeps.
REPLAY_EVENTS = 256

#: Seconds over which new log lines are gathered into one status event.
LOG_COALESCE = 0.25

#: How many log lines a log stream holds for a client whose connection is
#: full, before giving up on it.
HELD_LOG_LINES = 2000

#: Subscribes a callback to a kind of event; returns the function that
#: unsubscribes it.
Subscribe = Callable[[Callable[[Any], None]], Callable[[], None]]


def frame(event: str, data: str, event_id: int | None = None) -> bytes:
    """
    One SSE event: ``id:``, ``event:`` and ``data:`` lines, then a blank line.

    ``data`` may span lines; each becomes its own ``data:`` line.
    """
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def start_stream(request: IRequest) -> None:
    """
    Send the headers of an event stream.
    """
    request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
    request.setHeader(b"cache-control", b"no-cache, no-transform")
    request.setHeader(b"x-accel-buffering", b"no")
    request.setHeader(b"connection", b"keep-alive")


@implementer(IPushProducer)
class Client:
    """
    One connected stream: writes events unless its connection is full.

    :param request: the stream's request.
    :param on_resume: called when a paused client that skipped events can
        take data again.
    :param on_too_slow: called when the client stayed paused too long.
    :param hold: how many events to hold while paused (log lines must not
        be lost); 0 means skip them and owe only the latest (snapshots). A
        client that would need more is disconnected.
    """

    def __init__(
        self,
        request: IRequest,
        clock: IReactorTime,
        on_resume: Callable[[Client], None],
        on_too_slow: Callable[[Client], None],
        hold: int = 0,
    ) -> None:
        self.request = request
        self._hold = hold
        self._held: deque[bytes] = deque()
        self.done: Deferred[None] = Deferred(self._cancelled)
        self.paused = False
        self.owes_latest = False
        self.last_id = 0
        self._clock = clock
        self._on_resume = on_resume
        self._on_too_slow = on_too_slow
        self._slow_timer: IDelayedCall | None = None
        self._closed = False
        self.on_close: Callable[[Client], None] = lambda client: None
        IConsumer(request).registerProducer(self, True)
        # IRequest leaves notifyFinish out, though every Request has it.
        finished = request.notifyFinish()  # type: ignore[attr-defined]
        finished.addBoth(lambda _: self._close())

    def write(self, data: bytes, event_id: int | None = None) -> None:
        """
        Send ``data`` now, or note that the latest event is owed if the
        connection is full.
        """
        if self._closed:
            return
        if self.paused:
            if not self._hold:
                self.owes_latest = True
            elif len(self._held) < self._hold:
                self._held.append(data)
            else:
                self.disconnect()
            return
        self.request.write(data)
        if event_id is not None:
            self.last_id = event_id

    def pauseProducing(self) -> None:
        self.paused = True
        if self._slow_timer is None:
            self._slow_timer = self._clock.callLater(
                SLOW_CLIENT_TIMEOUT, self._on_too_slow, self
            )

    def resumeProducing(self) -> None:
        self.paused = False
        self._cancel_timer()
        while self._held and not self.paused:
            self.request.write(self._held.popleft())
        if self.owes_latest:
            self.owes_latest = False
            self._on_resume(self)

    def stopProducing(self) -> None:
        self._close()

    def end(self) -> None:
        """
        End the stream cleanly (the service is stopping).
        """
        self._close()

    def disconnect(self) -> None:
        """
        Drop the connection (a client that cannot keep up).
        """
        transport = getattr(self.request, "transport", None)
        if transport is not None:
            transport.abortConnection()
        self._close()

    def _cancel_timer(self) -> None:
        if self._slow_timer is not None and self._slow_timer.active():
            self._slow_timer.cancel()
        self._slow_timer = None

    def _cancelled(self, d: Deferred[None]) -> None:
        """
        Klein cancels ``done`` when the client goes away.
        """
        self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cancel_timer()
        if getattr(self.request, "channel", None) is not None:
            # Still connected: we are ending the stream ourselves, and the
            # request may only finish once its producer is gone.
            IConsumer(self.request).unregisterProducer()
        self.on_close(self)
        if not self.done.called:
            self.done.callback(None)


class StatusStream:
    """
    Fans the status snapshot out to every connected client.

    :param clock: schedules the fan-out, keep-alives and slow-client
        cut-offs.
    :param snapshot: builds the current snapshot (the same function
        ``GET /control/status`` answers with).
    :param subscribe: subscribes a callback to state changes; returns the
        function that unsubscribes.
    :param subscribe_logs: subscribes a callback to new log lines (the
        snapshot's ``recentLogs``), the same way; ``None`` to leave them out.
    :param replay: how many events the replay buffer keeps (at least 1).
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        snapshot: Callable[[], dict[str, Any]],
        subscribe: Subscribe,
        replay: int = REPLAY_EVENTS,
        subscribe_logs: Subscribe | None = None,
    ) -> None:
        self._clock = clock
        self._snapshot = snapshot
        self._subscriptions: list[tuple[Subscribe, float]] = [(subscribe, 0.0)]
        if subscribe_logs is not None:
            self._subscriptions.append((subscribe_logs, LOG_COALESCE))
        self._unsubscribes: list[Callable[[], None]] = []
        self.clients: set[Client] = set()
        self._buffer: deque[tuple[int, bytes]] = deque(maxlen=replay)
        self._next_id = 1
        self._stale = True
        self._flush_call: IDelayedCall | None = None
        self._keepalive = LoopingCall(self._send_keepalive)
        self._keepalive.clock = clock

    def start(self) -> None:
        """
        Begin following state changes and sending keep-alives.
        """
        for subscribe, delay in self._subscriptions:
            self._unsubscribes.append(subscribe(partial(self._on_event, delay)))
        self._keepalive.start(KEEPALIVE_INTERVAL, now=False)

    def _on_event(self, delay: float, event: Any) -> None:
        self.changed(delay)

    def stop(self) -> None:
        """
        Stop following changes; end every client's stream.
        """
        while self._unsubscribes:
            self._unsubscribes.pop()()
        if self._keepalive.running:
            self._keepalive.stop()
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        for client in list(self.clients):
            client.end()

    def changed(self, delay: float = 0.0) -> None:
        """
        Something in the snapshot changed: send one event within ``delay``
        seconds (on the next turn of the reactor by default), however many
        changes arrive before then.
        """
        pending = self._flush_call
        if pending is None or not pending.active():
            self._flush_call = self._clock.callLater(delay, self._flush)
        elif pending.getTime() > self._clock.seconds() + delay:
            pending.reset(delay)

    def _serialise(self) -> str:
        """
        The current snapshot as JSON.
        """
        return json.dumps(self._snapshot(), separators=(",", ":"), default=str)

    def _event(self) -> tuple[int, bytes]:
        """
        Build, number and remember one event holding a fresh snapshot.

        Events are only built for changes: a client that connects is sent
        the latest event again, so connections do not push real changes out
        of the replay buffer.
        """
        event_id = self._next_id
        self._next_id += 1
        event = (event_id, frame("status", self._serialise(), event_id))
        self._buffer.append(event)
        self._stale = False
        return event

    def _flush(self) -> None:
        self._flush_call = None
        if not self.clients:
            self._stale = True
            return
        event_id, data = self._event()
        for client in list(self.clients):
            client.write(data, event_id)

    def _send_keepalive(self) -> None:
        for client in list(self.clients):
            client.write(b": keep-alive\n\n")

    def connect(self, request: IRequest) -> Deferred[None]:
        """
        Serve one client: what it missed (by ``Last-Event-ID``) or a fresh
        snapshot, then every change.

        :returns: a Deferred that fires when the client is gone; cancelling
            it (Klein does, on disconnect) removes the client.
        """
        start_stream(request)
        client = Client(request, self._clock, self._resume, self._too_slow)
        client.on_close = self.clients.discard
        self.clients.add(client)
        if self._stale:
            self._event()
        last = _last_event_id(request)
        missed = self._missed_since(last) if last is not None else None
        if last is None:
            event_id, data = self._buffer[-1]
            client.write(data, event_id)
        elif missed is None:
            event_id = self._next_id - 1
            client.write(frame("reset", self._serialise(), event_id), event_id)
        else:
            for event_id, data in missed:
                client.write(data, event_id)
        return client.done.addErrback(_ignore_cancel)

    def _missed_since(self, last: int) -> list[tuple[int, bytes]] | None:
        """
        The buffered events after ``last``, or ``None`` if the buffer no
        longer reaches back that far.
        """
        if last >= self._next_id:
            return None
        if not self._buffer or last < self._buffer[0][0] - 1:
            return None
        return [event for event in self._buffer if event[0] > last]

    def _resume(self, client: Client) -> None:
        """
        A client that missed events while its connection was full gets the
        newest one: a full snapshot stands for all it missed.
        """
        if self._buffer and self._buffer[-1][0] > client.last_id:
            event_id, data = self._buffer[-1]
            client.write(data, event_id)

    def _too_slow(self, client: Client) -> None:
        self.log.info(
            "Disconnecting a status stream client that read nothing for {seconds} s",
            seconds=SLOW_CLIENT_TIMEOUT,
        )
        client.disconnect()


def _last_event_id(request: IRequest) -> int | None:
    """
    The ``Last-Event-ID`` header (or ``lastEventId`` query) as a number.
    """
    raw = request.getHeader(b"last-event-id")
    if raw is None:
        args = request.args.get(b"lastEventId") if request.args else None
        raw = args[0].decode("ascii", "replace") if args else None
    if raw is None:
        return None
    try:
        return max(0, int(raw.strip()))
    except ValueError:
        return 0


def _ignore_cancel(failure: Any) -> None:
    failure.trap(CancelledError)


class LogStream:
    """
    Streams one agent's log lines: the last ``backlog`` entries, then each
    new line as it is written (pushed, not polled).

    :param tail: gives the last entries of an agent (``AgentLogs.tail``).
    :param subscribe: subscribes a callback to log records.
    """

    def __init__(
        self,
        clock: IReactorTime,
        tail: Callable[[str, int, str | None], list[dict[str, Any]]],
        subscribe: Subscribe,
        backlog: int = 100,
    ) -> None:
        self._clock = clock
        self._tail = tail
        self._subscribe = subscribe
        self._backlog = backlog
        self.clients: set[Client] = set()

    def stop(self) -> None:
        """
        End every client's stream (the service is stopping).
        """
        for client in list(self.clients):
            client.end()

    def connect(
        self, request: IRequest, agent: str, instance: str | None
    ) -> Deferred[None]:
        """
        Serve one client for ``agent`` (one ``instance`` if given).
        """
        start_stream(request)
        client = Client(
            request,
            self._clock,
            lambda c: None,
            lambda c: c.disconnect(),
            hold=HELD_LOG_LINES,
        )
        for record in self._tail(agent, self._backlog, instance):
            client.write(frame("log", json.dumps(record, default=str)))

        def on_record(event: Any) -> None:
            record = event.data["record"]
            if record["agent"] == agent and (
                instance is None or record.get("instance") == instance
            ):
                client.write(frame("log", json.dumps(record, default=str)))

        unsubscribe = self._subscribe(on_record)
        keepalive = LoopingCall(client.write, b": keep-alive\n\n")
        keepalive.clock = self._clock
        keepalive.start(KEEPALIVE_INTERVAL, now=False)

        def closed(c: Client) -> None:
            self.clients.discard(c)
            unsubscribe()
            if keepalive.running:
                keepalive.stop()

        client.on_close = closed
        self.clients.add(client)
        return client.done.addErrback(_ignore_cancel)
