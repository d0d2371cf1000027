"""
Plumbing of the session tests: Deferred results read at once, HTTP clients
answered in memory by a resource, agents that fail, resources served on
127.0.0.1, and waiting for a process to end.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable
from typing import Any, TypeVar, cast

from treq.client import HTTPClient
from treq.testing import RequestTraversalAgent
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.defer import fail as failed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IConsumer, IListeningPort, IReactorTCP
from twisted.internet.protocol import ServerFactory
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IBodyProducer, IResponse
from twisted.web.resource import IResource, Resource
from twisted.web.server import Site
from zope.interface import implementer

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)


def result_of(d: Deferred[T]) -> T:
    """
    The result ``d`` has already fired with (trial's ``successResultOf``).
    """
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    [result] = results
    if isinstance(result, Failure):
        result.raiseException()
    return cast(T, result)


def failure_of(d: Deferred[Any], error: type[E]) -> E:
    """
    The exception ``d`` has already failed with, which must be an ``error``
    (trial's ``failureResultOf``).
    """
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    [result] = results
    assert isinstance(result, Failure), f"{d!r} succeeded with {result!r}"
    assert isinstance(result.value, error), result.getTraceback()
    return result.value


def pump(d: Deferred[Any], agent: RequestTraversalAgent) -> None:
    """
    Let in-memory HTTP exchanges through ``agent`` run until ``d`` fires or
    nothing moves any more.
    """
    for _ in range(100):
        if d.called:
            return
        agent.flush()


@implementer(IBodyProducer)
class _BytesProducer:
    """
    A request body written all at once, with no reactor involved.
    """

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.length = len(body)

    def startProducing(self, consumer: IConsumer) -> Deferred[None]:
        consumer.write(self.body)
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


@implementer(IAgent)
class RefusingAgent:
    """
    An agent whose connections are all refused.
    """

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Headers | None = None,
        bodyProducer: IBodyProducer | None = None,
    ) -> Deferred[IResponse]:
        """
        Fail as a refused connection does.
        """
        return failed(ConnectionRefusedError("connection refused"))


def memory_client(resource: Resource) -> tuple[HTTPClient, RequestTraversalAgent]:
    """
    An HTTP client whose requests ``resource`` answers in memory, and the
    agent to `pump`.
    """
    agent = RequestTraversalAgent(resource)
    return HTTPClient(agent, data_to_body_producer=_BytesProducer), agent


#: Serves a resource on 127.0.0.1 and gives its base URL.
Serve = Callable[[IResource], str]


class Servers:
    """
    Resources served on free local ports of the real reactor.

    :ivar ports: the ports listening, to stop after the test.
    """

    def __init__(self) -> None:
        self.ports: list[IListeningPort] = []

    def serve(self, resource: IResource) -> str:
        """
        Serve ``resource`` on a free port of 127.0.0.1.

        :returns: its base URL.
        """
        # Twisted's stubs do not type Site as the ServerFactory it is.
        site: ServerFactory = Site(resource)  # type: ignore[assignment]
        port = IReactorTCP(reactor).listenTCP(0, site, interface="127.0.0.1")
        self.ports.append(port)
        address = port.getHost()
        assert isinstance(address, IPv4Address)
        return f"http://127.0.0.1:{address.port}"


def gone(pid: int) -> bool:
    """
    Whether process ``pid`` has ended (waiting up to 5 s for it to).
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], 5)
    finally:
        os.close(fd)
    return bool(readable)
