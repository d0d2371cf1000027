"""
A stand-in for the gateway's run routes: it records each request and
answers with canned JSON.
"""

from __future__ import annotations

import json
from typing import Any

from attrs import frozen
from twisted.web.resource import Resource
from twisted.web.server import Request


@frozen
class Recorded:
    """
    One request the fake gateway received.
    """

    method: str
    path: str
    authorization: str | None
    body: Any


class FakeGateway(Resource):
    """
    Answer every request from ``answers`` (``{"ok": true}`` by default).

    :ivar url: the base URL, set once it listens.
    :ivar requests: every request received, in order.
    :ivar answers: ``(method, path)`` to ``(status, body bytes)``.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.url = ""
        self.requests: list[Recorded] = []
        self.answers: dict[tuple[str, str], tuple[int, bytes]] = {}

    def answer(self, method: str, path: str, status: int, body: Any) -> None:
        """
        Answer ``method path`` with ``status`` and ``body`` as JSON.
        """
        self.answers[method, path] = (status, json.dumps(body).encode())

    def render(self, request: Request) -> bytes:
        """
        Record the request and send the canned answer.
        """
        method = request.method.decode()
        path = request.path.decode()
        raw = request.content.read() if request.content is not None else b""
        auth = request.getHeader("authorization")
        self.requests.append(
            Recorded(method, path, auth, json.loads(raw) if raw else None)
        )
        status, body = self.answers.get((method, path), (200, b'{"ok": true}'))
        request.setResponseCode(status)
        request.setHeader("content-type", "application/json")
        return body
