"""
Tests for fallback, the breaker, retries and the auth limit of `ModelChain`,
against the scripted API in memory, with time on a `Clock`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from attrs import define
from treq.client import HTTPClient
from treq.testing import RequestTraversalAgent
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import Clock

from action_llama.agent.session._bash import BASH_TOOL
from action_llama.agent.session._breaker import Breaker
from action_llama.agent.session._conversation import Reply, UserMessage
from action_llama.agent.session._models import ModelChain
from action_llama.agent.session._providers import (
    ModelAPIError,
    ModelSettings,
    SessionError,
    post_json,
)

from .plumbing import RefusingAgent, failure_of, memory_client, pump, result_of
from .support import Lines, ScriptedAPI, Step, say
from .support import fail as fail_step


def settings(name: str, provider: str = "anthropic") -> ModelSettings:
    """
    A model called ``name`` whose id is ``model-<name>``.
    """
    return ModelSettings(
        name=name,
        provider=provider,
        model=f"model-{name}",
        base_url="http://api.test",
        api_key="sk-test",
    )


@define
class Harness:
    """
    A chain over the scripted API, and what the test drives it with.
    """

    api: ScriptedAPI
    agent: RequestTraversalAgent
    clock: Clock
    chain: ModelChain
    lines: Lines

    def ask(self) -> Deferred[Reply]:
        """
        Ask once and let the exchanges run.
        """
        d = ensureDeferred(
            self.chain.ask("system", [UserMessage("hello")], [BASH_TOOL])
        )
        pump(d, self.agent)
        return d

    def advance(self, d: Deferred[Reply], seconds: float) -> None:
        """
        Move time on and let the exchanges that follow run.
        """
        self.clock.advance(seconds)
        pump(d, self.agent)


def harness(
    tmp_path: Path, steps: Sequence[Step], models: Sequence[str] = ("a",)
) -> Harness:
    """
    A chain of ``models`` whose requests the scripted API answers with
    ``steps``; its backoffs take their full step (no jitter).
    """
    api = ScriptedAPI("anthropic", steps)
    client, agent = memory_client(api)
    clock = Clock()
    lines = Lines()
    log = lines.log()
    breaker = Breaker(
        tmp_path / "model-breaker.json", clock, lambda text: log("warn", text)
    )
    chain = ModelChain(
        [settings(name) for name in models],
        client,
        clock,
        breaker,
        log,
        jitter=lambda: 1.0,
    )
    return Harness(api, agent, clock, chain, lines)


def test_rate_limited_model_falls_back_at_once(tmp_path: Path) -> None:
    """
    A 429 from the first model sends the request to the second at once.
    """
    h = harness(tmp_path, [fail_step(429), say("from b")], models=("a", "b"))

    reply = result_of(h.ask())

    assert reply.message.text == "from b" and reply.message.model == "b"
    assert h.api.models() == ["model-a", "model-b"]
    assert h.clock.getDelayedCalls() == []


def test_rate_limited_model_is_asked_again_after_60_seconds(tmp_path: Path) -> None:
    """
    A model that answered 429 is skipped for 60 s, then asked first again.
    """
    h = harness(
        tmp_path,
        [fail_step(429), say("b"), say("b again"), say("a is back")],
        models=("a", "b"),
    )
    result_of(h.ask())

    h.clock.advance(59)
    assert result_of(h.ask()).message.model == "b"
    h.clock.advance(1)
    assert result_of(h.ask()).message.model == "a"

    assert h.api.models() == ["model-a", "model-b", "model-b", "model-a"]


@pytest.mark.parametrize("status", [503, 529])
def test_overloaded_model_falls_back(tmp_path: Path, status: int) -> None:
    """
    503 and 529 (overloaded) trip the breaker like 429.
    """
    h = harness(tmp_path, [fail_step(status), say("b")], models=("a", "b"))

    assert result_of(h.ask()).message.model == "b"


def test_breaker_is_shared_through_its_file(tmp_path: Path) -> None:
    """
    A model one chain found rate-limited is skipped by a second chain (a
    second run) that shares the breaker file.
    """
    first = harness(tmp_path, [fail_step(429), say("b")], models=("a", "b"))
    result_of(first.ask())
    second = harness(tmp_path, [say("b in the second run")], models=("a", "b"))
    second.clock.advance(first.clock.seconds())

    assert result_of(second.ask()).message.model == "b"
    assert second.api.models() == ["model-b"]


def test_every_model_rate_limited_waits_for_the_first_to_return(
    tmp_path: Path,
) -> None:
    """
    When every model is skipped, the chain waits until the first may be
    asked again, then asks it.
    """
    h = harness(tmp_path, [fail_step(429), fail_step(429), say("a")], models=("a", "b"))

    d = h.ask()
    assert not d.called
    h.advance(d, 60)

    assert result_of(d).message.model == "a"
    assert any("waiting 60 s" in m for m in h.lines.messages("info"))


def test_transient_errors_are_retried_with_backoff(tmp_path: Path) -> None:
    """
    A 500 and a 502 are retried after 1 s, then 2 s, on the same model.
    """
    h = harness(tmp_path, [fail_step(500), fail_step(502), say("ok")])

    d = h.ask()
    h.advance(d, 0.999)
    assert not d.called and len(h.api.requests) == 1
    h.advance(d, 0.001)
    assert not d.called and len(h.api.requests) == 2
    h.advance(d, 2)

    assert result_of(d).message.text == "ok"


def test_five_transient_failures_end_the_session(tmp_path: Path) -> None:
    """
    After the fifth transient failure of one request, the chain gives up
    with the last reason.
    """
    h = harness(tmp_path, [fail_step(502, "bad gateway")] * 5)

    d = h.ask()
    for step in (1, 2, 4, 8):
        h.advance(d, step)

    error = failure_of(d, SessionError)
    assert "failed 5 times in a row" in str(error)
    assert "HTTP 502: bad gateway" in str(error)
    assert len(h.api.requests) == 5


def test_three_auth_failures_end_the_session(tmp_path: Path) -> None:
    """
    The third 401 or 403 in a row ends the session with that reason.
    """
    h = harness(
        tmp_path,
        [fail_step(401, "invalid x-api-key"), fail_step(403), fail_step(401)],
    )

    d = h.ask()
    h.advance(d, 1)
    h.advance(d, 2)

    error = str(failure_of(d, SessionError))
    assert "authentication failed 3 times in a row" in error
    assert "HTTP 401" in error and "al creds add anthropic_key" in error
    assert len(h.api.requests) == 3


def test_auth_failure_drops_the_model_when_another_is_left(tmp_path: Path) -> None:
    """
    A model whose key is refused is not asked again in this run while
    another model works.
    """
    h = harness(tmp_path, [fail_step(401), say("b"), say("b again")], models=("a", "b"))

    result_of(h.ask())
    result_of(h.ask())

    assert h.api.models() == ["model-a", "model-b", "model-b"]


def test_refusal_of_the_last_model_ends_the_session(tmp_path: Path) -> None:
    """
    A 400 from the only model ends the session at once with the API's
    message.
    """
    h = harness(tmp_path, [fail_step(400, "prompt is too long")])

    error = str(failure_of(h.ask(), SessionError))

    assert error == "model a refused the request: HTTP 400: prompt is too long"


def test_refusal_falls_back_to_the_next_model(tmp_path: Path) -> None:
    """
    A 404 (an unknown model id) from the first model falls back to the
    second.
    """
    h = harness(tmp_path, [fail_step(404), say("b")], models=("a", "b"))

    assert result_of(h.ask()).message.model == "b"


def test_request_without_answer_times_out(tmp_path: Path) -> None:
    """
    A request that gets no answer in 600 s fails as transient.
    """
    client, agent = memory_client(ScriptedAPI("anthropic", [Step(hold=Deferred())]))
    clock = Clock()
    d = ensureDeferred(
        post_json(client, clock, "http://api.test/v1/messages", {}, {}, 600)
    )
    pump(d, agent)
    clock.advance(600)

    error = failure_of(d, ModelAPIError)
    assert error.kind == "transient" and "no answer within 600 s" in error.reason


def test_failed_connection_is_transient() -> None:
    """
    A connection that cannot be made is a transient failure.
    """
    d = ensureDeferred(
        post_json(HTTPClient(RefusingAgent()), Clock(), "http://x/", {}, {}, 60)
    )

    error = failure_of(d, ModelAPIError)
    assert error.kind == "transient" and "connection failed" in error.reason


def test_answer_of_the_wrong_shape_is_transient(tmp_path: Path) -> None:
    """
    A 200 whose body is not the API's shape is retried like a 5xx.
    """
    h = harness(tmp_path, [Step(raw=b'{"id": "msg_1"}'), say("ok")])

    d = h.ask()
    h.advance(d, 1)

    assert result_of(d).message.text == "ok"
    assert any("documented shape" in m for m in h.lines.messages("warn"))
