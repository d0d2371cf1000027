"""
A scripted model API for the session tests: it speaks the Anthropic Messages
API or the OpenAI Chat Completions API, answers each request with the next
step of its script, records what it was sent, and answers the run routes
(``/signals/*``) as a stand-in gateway would.

It is a plain resource, so tests reach it in memory (`memory_client`) or
over TCP on 127.0.0.1 (`Servers`), both in `.plumbing`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from attrs import define, frozen
from twisted.internet.defer import Deferred
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from action_llama.agent.session._log import SessionLog
from action_llama.runtime import Masker

Kind = Literal["anthropic", "openai"]

#: The tokens each scripted answer reports: read, written.
USAGE = (100, 10)

#: The path each API answers on, for a base URL that is the server's root
#: (and ``/v1`` under it for OpenAI).
PATHS: dict[Kind, str] = {
    "anthropic": "/v1/messages",
    "openai": "/v1/chat/completions",
}


@define
class Step:
    """
    One scripted answer: an error status, a ``bash`` call, or text.

    :ivar raw: if set, the body of the answer, as it is.
    :ivar hold: if set, the answer waits until it fires.
    """

    status: int = 200
    text: str = ""
    command: str | None = None
    raw: bytes | None = None
    hold: Deferred[None] | None = None


def bash(command: str, hold: Deferred[None] | None = None) -> Step:
    """
    An answer that calls ``bash`` with ``command``.
    """
    return Step(command=command, hold=hold)


def say(text: str) -> Step:
    """
    A final answer: ``text`` and no tool call.
    """
    return Step(text=text)


def fail(status: int, message: str = "scripted failure") -> Step:
    """
    An error answer with ``status``.
    """
    return Step(status=status, text=message)


@frozen
class Received:
    """
    One request the scripted API received.

    :ivar headers: the headers, names in lower case.
    """

    path: str
    headers: dict[str, str]
    body: Any


class ScriptedAPI(Resource):
    """
    Answer model requests from ``steps``, in order.

    :ivar requests: the model requests received, in order.
    :ivar signals: the ``/signals/*`` requests received, in order.
    """

    isLeaf = True

    def __init__(self, kind: Kind, steps: Sequence[Step]) -> None:
        super().__init__()
        self.kind = kind
        self.steps = list(steps)
        self.requests: list[Received] = []
        self.signals: list[Received] = []
        self._waiting: dict[int, Deferred[Received]] = {}
        self._signal_waiting: dict[str, Deferred[Received]] = {}

    def arrival(self, number: int) -> Deferred[Received]:
        """
        Fire with the ``number``-th model request (from 1) once it came.
        """
        d: Deferred[Received] = Deferred()
        if len(self.requests) >= number:
            d.callback(self.requests[number - 1])
        else:
            self._waiting[number] = d
        return d

    def signalled(self, path: str) -> Deferred[Received]:
        """
        Fire with the first request to the run route ``path`` once it came.
        """
        d: Deferred[Received] = Deferred()
        sent = [r for r in self.signals if r.path == path]
        if sent:
            d.callback(sent[0])
        else:
            self._signal_waiting[path] = d
        return d

    def models(self) -> list[str]:
        """
        The model id of each model request, in order.
        """
        return [r.body["model"] for r in self.requests]

    def render_POST(self, request: Request) -> bytes | int:
        """
        Record the request and answer it.
        """
        path = request.path.decode()
        raw = request.content.read() if request.content is not None else b""
        headers = {
            k.decode().lower(): v[0].decode()
            for k, v in request.requestHeaders.getAllRawHeaders()
        }
        received = Received(path, headers, json.loads(raw) if raw else None)
        request.setHeader("content-type", "application/json")
        if path.startswith("/signals/"):
            self.signals.append(received)
            if path in self._signal_waiting:
                self._signal_waiting.pop(path).callback(received)
            return b'{"ok": true}'
        if path != PATHS[self.kind]:
            request.setResponseCode(404)
            return b'{"error": {"message": "no such route"}}'
        self.requests.append(received)
        number = len(self.requests)
        if number in self._waiting:
            self._waiting.pop(number).callback(received)
        if number > len(self.steps):
            request.setResponseCode(500)
            return b'{"error": {"message": "the script has ended"}}'
        step = self.steps[number - 1]
        if step.hold is None or step.hold.called:
            return self._answer(request, step, number)
        step.hold.addCallback(lambda _: self._finish(request, step, number))
        return NOT_DONE_YET

    def _finish(self, request: Request, step: Step, number: int) -> None:
        request.write(self._answer(request, step, number))
        request.finish()

    def _answer(self, request: Request, step: Step, number: int) -> bytes:
        """
        The body of answer ``number``.
        """
        request.setResponseCode(step.status)
        if step.raw is not None:
            return step.raw
        if step.status != 200:
            return json.dumps({"error": {"message": step.text}}).encode()
        if self.kind == "anthropic":
            return json.dumps(_anthropic(step, number)).encode()
        return json.dumps(_openai(step, number)).encode()


def _anthropic(step: Step, number: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": step.text or "On it."}]
    if step.command is not None:
        content.append(
            {
                "type": "tool_use",
                "id": f"toolu_{number}",
                "name": "bash",
                "input": {"command": step.command},
            }
        )
    return {
        "id": f"msg_{number}",
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": "end_turn" if step.command is None else "tool_use",
        "usage": {"input_tokens": USAGE[0], "output_tokens": USAGE[1]},
    }


def _openai(step: Step, number: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": step.text or None}
    if step.command is not None:
        arguments = json.dumps({"command": step.command})
        message["tool_calls"] = [
            {
                "id": f"call_{number}",
                "type": "function",
                "function": {"name": "bash", "arguments": arguments},
            }
        ]
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "stop" if step.command is None else "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": USAGE[0], "completion_tokens": USAGE[1]},
    }


def tool_results(received: Received) -> list[str]:
    """
    The tool results a model request carries in its last message, in either
    API's shape.
    """
    messages = received.body["messages"]
    if "system" in received.body:
        return [block["content"] for block in messages[-1]["content"]]
    trailing: list[str] = []
    for message in reversed(messages):
        if message["role"] != "tool":
            break
        trailing.insert(0, message["content"])
    return trailing


class Lines:
    """
    Collects the lines a `SessionLog` writes.

    :ivar lines: ``(level, message, fields)`` of each line.
    """

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def emit(self, level: str, message: str, **fields: Any) -> None:
        """
        Record one line.
        """
        self.lines.append((level, message, fields))

    def log(self, secrets: Sequence[str] = ()) -> SessionLog:
        """
        A session log that writes here, masking ``secrets``.
        """
        return SessionLog(self.emit, Masker(secrets))

    def messages(self, level: str | None = None) -> list[str]:
        """
        The messages, of ``level`` if given.
        """
        return [m for lvl, m, _ in self.lines if level is None or lvl == level]
