"""
The Server-Sent Events protocol of the status and log streams, read the way
a client reads them: over real sockets with ``treq.collect``, one chunk at a
time.

Most tests run the whole service on the quick-start project (with the
heartbeat's schedule moved to once a year, so no cron tick adds events). The
tests of keep-alives, the replay buffer's edge and slow clients build a
``StatusStream`` of their own whose clock is a ``task.Clock``, so the test
decides when time passes.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from attrs import define, field
from klein import Klein
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IConsumer, IListeningPort
from twisted.internet.protocol import ClientFactory, Protocol, connectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.server import Site
from zope.interface import implementer

from action_llama.config import load_project
from action_llama.credentials import CredentialStore
from action_llama.events import EventHub
from action_llama.gateway import sse
from action_llama.scheduler import Scheduler
from action_llama.service import ServiceOptions, StreamService, makeService
from tests.helpers import QUICKSTART, copy_project

#: Seconds any one wait may take before the test fails.
WAIT = 10.0


@define
class Event:
    """
    One parsed event of a stream.
    """

    event: str
    data: str
    id: str | None = None

    def json(self) -> Any:
        """
        The event's data, decoded.
        """
        return json.loads(self.data)

    @property
    def number(self) -> int:
        """
        The event's id as a number; the event must have one.
        """
        assert self.id is not None, f"{self.event} event without an id"
        return int(self.id)


class _StopReading(Exception):
    """
    Raised from the collector so that treq drops the connection.
    """


class EventReader:
    """
    Reads one event stream with ``treq.collect`` as its chunks arrive, and
    hands out its events in order.

    :ivar raw: every byte received so far.
    :ivar comments: the comment lines received so far (keep-alives).
    :ivar lost: why the stream ended, if it did not end cleanly or by
        ``close``; a stream still open when the test ends is lost when the
        reactor stops, and that is no failure.
    """

    def __init__(self, response: Any) -> None:
        self.response = response
        self.raw = b""
        self.comments: list[str] = []
        self._events: list[Event] = []
        self._taken = 0
        self._pending = b""
        self._waiter: Deferred[Event] | None = None
        self._closing = False
        self.lost: Failure | None = None
        self.finished: Deferred[None] = treq.collect(response, self._received)
        self.finished.addErrback(self._ended)

    def _ended(self, failure: Failure) -> None:
        if not failure.check(_StopReading):
            self.lost = failure

    def _received(self, data: bytes) -> None:
        if self._closing:
            raise _StopReading()
        self.raw += data
        self._pending += data
        *blocks, self._pending = self._pending.split(b"\n\n")
        for block in blocks:
            self._parse(block.decode("utf-8"))
        if self._waiter is not None and self._taken < len(self._events):
            waiter, self._waiter = self._waiter, None
            waiter.callback(self._take())

    def _parse(self, block: str) -> None:
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(": ")
            fields.setdefault(name, []).append(value)
        if fields:
            [kind] = fields["event"]
            event_id = fields["id"][0] if "id" in fields else None
            self._events.append(Event(kind, "\n".join(fields["data"]), event_id))

    def _take(self) -> Event:
        event = self._events[self._taken]
        self._taken += 1
        return event

    def next_event(self, timeout: float = WAIT) -> Deferred[Event]:
        """
        The next event not yet handed out, now or once it arrives; fails
        with ``TimeoutError`` after ``timeout`` seconds.
        """
        if self._taken < len(self._events):
            d: Deferred[Event] = Deferred()
            d.callback(self._take())
            return d
        assert self._waiter is None, "one wait at a time"
        self._waiter = Deferred(lambda d: setattr(self, "_waiter", None))
        return self._waiter.addTimeout(timeout, reactor)

    def close(self) -> None:
        """
        Drop the connection when the next chunk arrives.
        """
        self._closing = True


async def open_stream(url: str, key: str | None, **headers: str) -> EventReader:
    """
    ``GET`` an event stream and start reading it.
    """
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    response = await treq.get(url, headers=headers, unbuffered=True, persistent=False)
    assert response.code == 200, response.code
    return EventReader(response)


def fired(d: Deferred[Any]) -> Deferred[None]:
    """
    A new Deferred that fires (with ``None``) once ``d`` has fired either
    way, leaving ``d``'s own result alone.
    """
    done: Deferred[None] = Deferred()

    def settled(result: Any) -> Any:
        done.callback(None)
        return result

    d.addBoth(settled)
    return done.addTimeout(WAIT, reactor)


@define
class RunningGateway:
    """
    The whole service, running, and the ways a test reaches into it.
    """

    base: str
    key: str
    scheduler: Scheduler
    stream: sse.StatusStream

    async def post(self, path: str) -> Any:
        """
        An authenticated ``POST``; it must succeed.
        """
        response = await treq.post(
            self.base + path,
            headers={"Authorization": f"Bearer {self.key}"},
            persistent=False,
        )
        assert response.code == 200, await response.text()
        return await response.json()

    def status(self, **headers: str) -> Deferred[EventReader]:
        """
        Open the status stream.
        """
        url = self.base + "/dashboard/api/status-stream"
        return Deferred.fromCoroutine(open_stream(url, self.key, **headers))

    def logs(self, agent: str, query: str = "") -> Deferred[EventReader]:
        """
        Open ``agent``'s log stream.
        """
        url = f"{self.base}/dashboard/api/logs/{agent}/stream{query}"
        return Deferred.fromCoroutine(open_stream(url, self.key))


@pytest_twisted.async_yield_fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    """
    The service on a copy of the quick-start project, listening on a free
    port, with the heartbeat's schedule moved to once a year.
    """
    root = copy_project(QUICKSTART, tmp_path / "project")
    heartbeat = root / "agents" / "heartbeat" / "config.toml"
    heartbeat.write_text(
        heartbeat.read_text().replace('"* * * * *"', '"0 0 1 1 *"'), "utf-8"
    )
    service = makeService(ServiceOptions(load_project(root), port=0), reactor)
    scheduler = service.getServiceNamed("scheduler")
    [stream] = [s.status for s in service if isinstance(s, StreamService)]
    service.startService()
    try:
        port = await service.getServiceNamed("gateway").when_listening()
        await scheduler.ready
        yield RunningGateway(
            f"http://127.0.0.1:{port.getHost().port}",
            CredentialStore().gateway_key() or "",
            scheduler,
            stream,
        )
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_status_stream_headers_keep_proxies_from_buffering(
    running: RunningGateway,
) -> None:
    """
    The status stream is ``text/event-stream`` that caches and proxies must
    neither store, transform nor buffer.
    """
    reader = await running.status()
    headers = reader.response.headers
    [content_type] = headers.getRawHeaders("content-type")
    assert content_type.startswith("text/event-stream")
    assert headers.getRawHeaders("cache-control") == ["no-cache, no-transform"]
    assert headers.getRawHeaders("x-accel-buffering") == ["no"]


@pytest_twisted.ensureDeferred
async def test_first_event_is_the_full_snapshot_in_sse_framing(
    running: RunningGateway,
) -> None:
    """
    On connect the first event is the whole snapshot, framed as ``id:``,
    ``event:`` and one ``data:`` line, ended by a blank line.
    """
    reader = await running.status()
    first = await reader.next_event()
    snapshot = first.json()
    assert reader.raw.startswith(
        f"id: {first.id}\nevent: status\ndata: {first.data}\n\n".encode()
    )
    assert first.number >= 1
    assert snapshot == json.loads(json.dumps(running.scheduler.snapshot()))
    assert {a["name"] for a in snapshot["agents"]} == {"heartbeat", "on-push", "triage"}
    assert set(snapshot) == {"schedulerInfo", "agents", "instances", "recentLogs"}


@pytest_twisted.ensureDeferred
async def test_each_change_sends_one_event(running: RunningGateway) -> None:
    """
    ``POST /control/pause`` sends one event with ``paused`` true, and the
    resume after it the next one, with the next id.
    """
    reader = await running.status()
    first = await reader.next_event()
    await running.post("/control/pause")
    paused = await reader.next_event()
    await running.post("/control/resume")
    resumed = await reader.next_event()
    assert paused.json()["schedulerInfo"]["paused"] is True
    assert resumed.json()["schedulerInfo"]["paused"] is False
    assert [paused.number, resumed.number] == [first.number + 1, first.number + 2]


@pytest_twisted.ensureDeferred
async def test_changes_in_one_turn_are_coalesced(running: RunningGateway) -> None:
    """
    Pause, resume and disable in one turn of the reactor make one event
    showing their end state.
    """
    reader = await running.status()
    first = await reader.next_event()
    running.scheduler.pause()
    running.scheduler.resume()
    running.scheduler.set_enabled("on-push", False)
    coalesced = await reader.next_event()
    running.scheduler.set_enabled("on-push", True)
    after = await reader.next_event()
    on_push = {a["name"]: a for a in coalesced.json()["agents"]}["on-push"]
    assert coalesced.json()["schedulerInfo"]["paused"] is False
    assert on_push["enabled"] is False and on_push["state"] == "disabled"
    assert [coalesced.number, after.number] == [first.number + 1, first.number + 2]


@pytest_twisted.ensureDeferred
async def test_reconnect_gets_exactly_the_missed_events(
    running: RunningGateway,
) -> None:
    """
    A client that reconnects with ``Last-Event-ID`` is sent every event
    after that id, once each, and then the live ones.
    """
    watcher = await running.status()
    await watcher.next_event()
    running.scheduler.pause()
    seen = await watcher.next_event()
    missed = []
    for change in (
        running.scheduler.resume,
        lambda: running.scheduler.set_enabled("triage", False),
        lambda: running.scheduler.set_enabled("triage", True),
    ):
        change()
        missed.append(await watcher.next_event())
    again = await running.status(**{"Last-Event-ID": str(seen.number)})
    replayed = [await again.next_event() for _ in missed]
    running.scheduler.pause()
    live = await again.next_event()
    assert replayed == missed
    assert live.number == missed[-1].number + 1
    assert live.json()["schedulerInfo"]["paused"] is True


@pytest_twisted.ensureDeferred
async def test_changes_while_nobody_listens_reach_a_reconnecting_client(
    running: RunningGateway,
) -> None:
    """
    A change made while no client is connected is sent to a client that
    comes back with ``Last-Event-ID``.
    """
    reader = await running.status()
    first = await reader.next_event()
    gone = fired(next(iter(running.stream.clients)).done)
    reader.close()
    running.scheduler.pause()
    await gone
    running.scheduler.set_enabled("triage", False)
    await running.post("/control/resume")
    again = await running.status(**{"Last-Event-ID": str(first.number)})
    paused, caught_up = [await again.next_event() for _ in range(2)]
    triage = {a["name"]: a for a in caught_up.json()["agents"]}["triage"]
    assert paused.json()["schedulerInfo"]["paused"] is True
    assert [paused.number, caught_up.number] == [first.number + 1, first.number + 2]
    assert caught_up.json()["schedulerInfo"]["paused"] is False
    assert triage["enabled"] is False


@pytest_twisted.ensureDeferred
async def test_disconnect_removes_status_client(running: RunningGateway) -> None:
    """
    Once a client has closed its connection the stream holds no client.
    """
    reader = await running.status()
    await reader.next_event()
    [client] = running.stream.clients
    gone = fired(client.done)
    reader.close()
    running.scheduler.pause()
    await gone
    await reader.finished
    assert reader.lost is None
    assert len(running.stream.clients) == 0


@pytest_twisted.ensureDeferred
async def test_disconnect_removes_log_subscriber(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A log stream subscribes to the event hub while its client is there, and
    unsubscribes once the client has closed its connection.
    """
    events = running.scheduler.events
    before = events.subscriber_count("log")
    unsubscribed: Deferred[None] = Deferred()
    subscribe = events.subscribe

    def watched(topic: str, subscriber: Any) -> Callable[[], None]:
        unsubscribe = subscribe(topic, subscriber)

        def done() -> None:
            unsubscribe()
            if not unsubscribed.called:
                unsubscribed.callback(None)

        return done

    monkeypatch.setattr(events, "subscribe", watched)
    reader = await running.logs("heartbeat")
    during = events.subscriber_count("log")
    reader.close()
    running.scheduler.logs.write("heartbeat", None, "info", "wakes the reader")
    await unsubscribed.addTimeout(WAIT, reactor)
    assert during == before + 1
    assert events.subscriber_count("log") == before


@pytest_twisted.ensureDeferred
async def test_log_stream_sends_backlog_then_lines_as_data(
    running: RunningGateway,
) -> None:
    """
    A log stream sends the lines already written, then each new one as it is
    written, as JSON: markup in a line stays text inside a JSON string.
    """
    logs = running.scheduler.logs
    for n in range(3):
        logs.write("heartbeat", "heartbeat-old", "info", f"line {n}")
    reader = await running.logs("heartbeat")
    backlog = [(await reader.next_event()).json()["message"] for _ in range(3)]
    logs.write("on-push", None, "info", "another agent")
    logs.write("heartbeat", "heartbeat-new", "error", "<script>alert(1)</script>")
    live = await reader.next_event()
    assert backlog == ["line 0", "line 1", "line 2"]
    assert live.event == "log"
    assert live.json()["message"] == "<script>alert(1)</script>"
    assert live.json()["level"] == "error"
    assert b'"message": "<script>alert(1)</script>"' in reader.raw


@pytest_twisted.ensureDeferred
async def test_log_stream_of_one_instance(running: RunningGateway) -> None:
    """
    With ``?instance=`` the log stream carries that run's lines only.
    """
    logs = running.scheduler.logs
    logs.write("heartbeat", "heartbeat-a", "info", "a before")
    logs.write("heartbeat", "heartbeat-b", "info", "b before")
    reader = await running.logs("heartbeat", "?instance=heartbeat-b")
    first = await reader.next_event()
    logs.write("heartbeat", "heartbeat-a", "info", "a after")
    logs.write("heartbeat", "heartbeat-b", "info", "b after")
    second = await reader.next_event()
    assert [first.json()["message"], second.json()["message"]] == [
        "b before",
        "b after",
    ]


@pytest_twisted.ensureDeferred
async def test_log_stream_of_unknown_agent_is_404(running: RunningGateway) -> None:
    """
    The log stream of an agent the project does not have is a JSON 404.
    """
    response = await treq.get(
        running.base + "/dashboard/api/logs/nobody/stream",
        headers={"Authorization": f"Bearer {running.key}"},
        persistent=False,
    )
    body = await response.json()
    assert response.code == 404
    assert "nobody" in body["error"]


@implementer(IConsumer)
class FakeRequest:
    """
    Just enough of a request for a stream written to directly.
    """

    def __init__(self, last_event_id: str | None = None) -> None:
        self.args: dict[bytes, list[bytes]] = {}
        self.headers: dict[bytes, bytes] = {}
        self.written: list[bytes] = []
        self.channel = None
        self.producer: Any = None
        self._last_event_id = last_event_id

    def setHeader(self, name: bytes, value: bytes) -> None:
        self.headers[name] = value

    def getHeader(self, name: bytes) -> bytes | None:
        if name == b"last-event-id" and self._last_event_id is not None:
            return self._last_event_id.encode("ascii")
        return None

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None

    def notifyFinish(self) -> Deferred[None]:
        return Deferred()

    def write(self, data: bytes) -> None:
        self.written.append(data)


@define
class Counter:
    """
    A stand-in for the scheduler: a snapshot holding a number, and a hub
    that tells the stream when it changed.
    """

    padding: str = ""
    n: int = 0
    hub: EventHub = field(factory=EventHub)

    def snapshot(self) -> dict[str, Any]:
        """
        The current snapshot.
        """
        return {"n": self.n, "padding": self.padding}

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        """
        Follow the changes, as the stream does.
        """
        return self.hub.subscribe("state", callback)

    def change(self) -> None:
        """
        Change the snapshot.
        """
        self.n += 1
        self.hub.publish("state")


def test_keepalive_comment_every_interval() -> None:
    """
    A connected client gets a keep-alive comment every ``KEEPALIVE_INTERVAL``
    seconds, which is at most 15, and nothing is left scheduled after stop.
    """
    clock = Clock()
    counter = Counter()
    stream = sse.StatusStream(clock, counter.snapshot, counter.subscribe)
    stream.start()
    request = FakeRequest()
    stream.connect(request)
    clock.advance(sse.KEEPALIVE_INTERVAL - 0.1)
    before = list(request.written)
    clock.advance(0.1)
    clock.advance(sse.KEEPALIVE_INTERVAL)
    stream.stop()
    assert sse.KEEPALIVE_INTERVAL <= 15
    assert len(before) == 1 and before[0].startswith(b"id: 1\nevent: status\n")
    assert request.written[1:] == [b": keep-alive\n\n"] * 2
    assert clock.getDelayedCalls() == []


def test_log_lines_are_gathered_and_state_changes_are_not_delayed() -> None:
    """
    New log lines (the snapshot's recent activity) make one event per
    ``LOG_COALESCE`` seconds however many come, and a state change while
    one is pending is sent at once, taking the lines with it.
    """
    clock = Clock()
    counter = Counter()
    stream = sse.StatusStream(
        clock,
        counter.snapshot,
        counter.subscribe,
        subscribe_logs=lambda callback: counter.hub.subscribe("log", callback),
    )
    stream.start()
    request = FakeRequest()
    stream.connect(request)
    for _ in range(50):
        counter.hub.publish("log")
    clock.advance(sse.LOG_COALESCE - 0.01)
    before = len(request.written)
    clock.advance(0.01)
    gathered = len(request.written)
    counter.hub.publish("log")
    clock.advance(0.01)
    counter.change()
    clock.advance(0)
    with_state = len(request.written)
    clock.advance(sse.LOG_COALESCE)
    stream.stop()
    assert (before, gathered, with_state, len(request.written)) == (1, 2, 3, 3)
    assert clock.getDelayedCalls() == []


def test_reconnect_beyond_the_buffer_gets_a_reset() -> None:
    """
    A client whose ``Last-Event-ID`` is older than the replay buffer reaches
    gets a ``reset`` event with a fresh snapshot; one just inside it gets
    the buffered events.
    """
    clock = Clock()
    counter = Counter()
    stream = sse.StatusStream(clock, counter.snapshot, counter.subscribe, replay=2)
    stream.start()
    stream.connect(FakeRequest())
    for _ in range(4):
        counter.change()
        clock.advance(0)
    behind = FakeRequest(last_event_id="2")
    stream.connect(behind)
    inside = FakeRequest(last_event_id="3")
    stream.connect(inside)
    stream.stop()
    assert behind.written == [b'id: 5\nevent: reset\ndata: {"n":4,"padding":""}\n\n']
    assert inside.written == [
        b'id: 4\nevent: status\ndata: {"n":3,"padding":""}\n\n',
        b'id: 5\nevent: status\ndata: {"n":4,"padding":""}\n\n',
    ]


class StalledClient(Protocol):
    """
    A raw HTTP client that asks for the stream, reads the first chunk, then
    stops reading until told to read again.
    """

    def __init__(self) -> None:
        self.reading: Deferred[None] = Deferred()
        self.lost: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.transport.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

    def dataReceived(self, data: bytes) -> None:
        if not self.reading.called:
            self.transport.pauseProducing()
            self.reading.callback(None)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost.callback(None)

    def read_again(self) -> None:
        """
        Read again, so that the end of the connection is seen.
        """
        self.transport.resumeProducing()


def serve(stream: sse.StatusStream) -> IListeningPort:
    """
    Serve ``stream`` alone at ``/`` on a free port of 127.0.0.1.
    """
    app = Klein()

    @app.route("/", methods=["GET"])
    def status(request: IRequest) -> Deferred[None]:
        return stream.connect(request)

    return reactor.listenTCP(0, Site(app.resource()), interface="127.0.0.1")


@pytest_twisted.ensureDeferred
async def test_slow_client_is_cut_off_while_others_keep_up() -> None:
    """
    A client that stops reading is disconnected once it has been unable to
    take data for ``SLOW_CLIENT_TIMEOUT``; a client that reads keeps getting
    every event at once.
    """
    clock = Clock()
    counter = Counter(padding="x" * 32 * 1024)
    stream = sse.StatusStream(clock, counter.snapshot, counter.subscribe)
    stream.start()
    port = serve(stream)
    url = f"http://127.0.0.1:{port.getHost().port}/"
    try:
        normal = await open_stream(url, None)
        await normal.next_event()
        [normal_client] = stream.clients
        stalled = StalledClient()
        factory = ClientFactory.forProtocol(lambda: stalled)
        reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
        await stalled.reading.addTimeout(WAIT, reactor)
        [stalled_client] = stream.clients - {normal_client}
        for _ in range(2000):
            counter.change()
            clock.advance(0)
            await normal.next_event()
            if stalled_client.paused:
                break
        assert stalled_client.paused, "the stalled client never filled its connection"
        clock.advance(sse.SLOW_CLIENT_TIMEOUT - 0.1)
        kept_until_timeout = stalled_client in stream.clients
        clock.advance(0.1)
        await fired(stalled_client.done)
        stalled.read_again()
        await stalled.lost.addTimeout(WAIT, reactor)
        counter.change()
        clock.advance(0)
        after = await normal.next_event(timeout=2)
        assert kept_until_timeout
        assert stream.clients == {normal_client}
        assert after.json()["n"] == counter.n
    finally:
        stream.stop()
        await port.stopListening()
