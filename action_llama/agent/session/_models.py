"""
Asking the agent's models, in the order of its ``models``, until one answers.

For every request, the first model that is not skipped is asked:

- A model that answers 429, 503 or 529 (rate-limited or overloaded) trips
  the shared breaker (see `._breaker`) and is skipped for 60 s by every run;
  the next model is asked at once. When every model is skipped, the session
  waits until the first of them may be asked again.
- A transient failure (another 5xx, a failed connection, no answer in time)
  is retried after an exponential backoff with jitter, up to `MAX_ATTEMPTS`
  attempts for the request; then the session fails.
- 401 or 403 (authentication or permission) counts as an auth failure: the
  model is dropped for the rest of the run if another one is left, else it
  is asked again after a backoff; after `MAX_AUTH_FAILURES` in a row the
  session fails with that reason.
- Any other refusal (400, 404, ...) would fail again: the model is dropped
  for the rest of the run if another is left, else the session fails.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from treq.client import HTTPClient
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from action_llama.credentials import PROVIDER_KEY_TYPES

from . import _anthropic, _openai
from ._breaker import COOLDOWN, Breaker
from ._conversation import Message, Reply, ToolSpec
from ._log import SessionLog
from ._providers import (
    ModelAPIError,
    ModelSettings,
    SessionError,
    post_json,
)

#: Attempts of one request that fails transiently, before the session fails.
MAX_ATTEMPTS = 5

#: Auth failures in a row after which the session fails.
MAX_AUTH_FAILURES = 3

#: Seconds of the first backoff; each next one doubles, up to `BACKOFF_CAP`.
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0

#: Seconds one request to a model may take, answer included.
REQUEST_TIMEOUT = 600.0

_Builder = Callable[
    [ModelSettings, str, Sequence[Message], Sequence[ToolSpec]],
    tuple[str, dict[str, str], dict[str, Any]],
]
_Parser = Callable[[ModelSettings, Any], Reply]


def _wire(provider: str) -> tuple[_Builder, _Parser]:
    """
    How to write a request for ``provider`` and read its answer.
    """
    if provider == "anthropic":
        return _anthropic.build_request, _anthropic.parse_reply
    return _openai.build_request, _openai.parse_reply


class ModelChain:
    """
    The models of one session, with their fallback, retries and breaker.

    :param models: the usable models, in the agent's order; not empty.
    :param client: sends the requests.
    :param clock: times requests out, and waits out backoffs and the breaker.
    :param breaker: the breaker the runs share.
    :param log: where failures are reported.
    :param jitter: gives a number in ``[0, 1)`` for each backoff.
    """

    def __init__(
        self,
        models: Sequence[ModelSettings],
        client: HTTPClient,
        clock: IReactorTime,
        breaker: Breaker,
        log: SessionLog,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._models = list(models)
        self._client = client
        self._clock = clock
        self._breaker = breaker
        self._log = log
        self._jitter = jitter
        self._dropped: set[str] = set()
        self._auth_failures = 0

    async def ask(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> Reply:
        """
        Have a model answer the conversation.

        :param system: the system prompt.
        :param messages: the history so far.
        :param tools: the tools on offer.
        :returns: the first answer a model gives.
        :raises SessionError: when the session must give up (see the module
            docstring).
        """
        failures = 0
        while True:
            model = await self._pick()
            try:
                reply = await self._send(model, system, messages, tools)
            except ModelAPIError as e:
                error = e
            else:
                self._auth_failures = 0
                return reply
            self._log("warn", f"model {model.name}: {error.reason}", model=model.name)
            if error.kind == "rate_limited":
                self._breaker.trip(model.breaker_key)
                self._log(
                    "info",
                    f"skipping model {model.name} for {COOLDOWN:g} s",
                    model=model.name,
                )
            elif error.kind == "auth":
                self._auth_failures += 1
                if self._auth_failures >= MAX_AUTH_FAILURES:
                    key_type = PROVIDER_KEY_TYPES[model.provider]
                    raise SessionError(
                        f"authentication failed {self._auth_failures} times in a"
                        f" row (model {model.name}: {error.reason}); check the"
                        f" key with `al creds add {key_type}`"
                    )
                if not self._drop(model):
                    await self._backoff(self._auth_failures)
            elif error.kind == "refused":
                if not self._drop(model):
                    raise SessionError(
                        f"model {model.name} refused the request: {error.reason}"
                    )
            else:
                failures += 1
                if failures >= MAX_ATTEMPTS:
                    raise SessionError(
                        f"the model API failed {failures} times in a row (model"
                        f" {model.name}: {error.reason})"
                    )
                await self._backoff(failures)

    async def _pick(self) -> ModelSettings:
        """
        The first model that is neither dropped nor skipped by the breaker,
        once there is one.
        """
        while True:
            until = []
            for model in self._models:
                if model.name in self._dropped:
                    continue
                skipped = self._breaker.skipped_until(model.breaker_key)
                if skipped is None:
                    return model
                until.append(skipped)
            delay = min(until) - self._clock.seconds()
            self._log(
                "info",
                f"every model is rate-limited or overloaded; waiting {delay:.0f} s",
            )
            await deferLater(self._clock, delay)

    def _drop(self, model: ModelSettings) -> bool:
        """
        Stop using ``model`` for this run, unless it is the last one left.

        :returns: whether it was dropped.
        """
        left = [m for m in self._models if m.name not in self._dropped]
        if left == [model]:
            return False
        self._dropped.add(model.name)
        self._log("warn", f"not using model {model.name} for the rest of this run")
        return True

    async def _backoff(self, failures: int) -> None:
        """
        Wait before the next attempt: exponential in ``failures``, with
        jitter (between half and all of the step).
        """
        step = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (failures - 1))
        await deferLater(self._clock, step * (0.5 + self._jitter() / 2))

    async def _send(
        self,
        model: ModelSettings,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
    ) -> Reply:
        """
        Ask ``model`` once.

        :raises ModelAPIError: if the request fails or the answer has an
            unexpected shape.
        """
        build, parse = _wire(model.provider)
        url, headers, body = build(model, system, messages, tools)
        answer = await post_json(
            self._client, self._clock, url, headers, body, REQUEST_TIMEOUT
        )
        try:
            return parse(model, answer)
        except (KeyError, IndexError, TypeError, AttributeError, ValueError):
            raise ModelAPIError(
                "transient", "the answer does not have the API's documented shape"
            ) from None
