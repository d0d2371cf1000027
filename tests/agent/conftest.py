"""
Fixtures for the agent tests: a fake gateway on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import maybeDeferred
from twisted.internet.interfaces import IReactorTCP
from twisted.internet.protocol import ServerFactory
from twisted.web.server import Site

from .support import FakeGateway


@pytest_twisted.async_yield_fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    """
    A fake gateway listening on a free local port for one test.
    """
    fake = FakeGateway()
    # Twisted's stubs do not type Site as the ServerFactory it is.
    site: ServerFactory = Site(fake)  # type: ignore[assignment]
    port = IReactorTCP(reactor).listenTCP(0, site, interface="127.0.0.1")
    address = port.getHost()
    assert isinstance(address, IPv4Address)
    fake.url = f"http://127.0.0.1:{address.port}"
    yield fake
    await maybeDeferred(port.stopListening)
