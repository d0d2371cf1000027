"""
Fixtures for the session tests: serving a resource on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_twisted
from twisted.internet.defer import maybeDeferred

from .plumbing import Serve, Servers


@pytest_twisted.async_yield_fixture
async def serve() -> AsyncIterator[Serve]:
    """
    Serve resources on free local ports for one test.

    :returns: a function that serves a resource and gives its base URL.
    """
    servers = Servers()
    yield servers.serve
    for port in servers.ports:
        await maybeDeferred(port.stopListening)
