"""
The models a session may use, and one HTTP exchange with a model API.

Anthropic models speak the Messages API; every other provider speaks the
OpenAI Chat Completions API (`action_llama.agent.session._anthropic` and
`._openai` hold the two wire formats). ``baseUrl`` may be set for any
provider and follows the convention of that API's own SDKs: the Anthropic
root has no ``/v1`` (requests go to ``<baseUrl>/v1/messages``), the
OpenAI-compatible root includes it (``<baseUrl>/chat/completions``).

Each provider's key is read from the variable its credential is exported as
(``anthropic_key`` as ``ANTHROPIC_API_KEY``, ``custom_key`` as
``CUSTOM_API_KEY``, ...). A ``custom`` server needs a ``baseUrl``, and may
need no key at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, NoReturn

from attrs import frozen
from treq.client import HTTPClient
from twisted.internet.defer import ensureDeferred
from twisted.internet.error import ConnectError, ConnectionClosed
from twisted.internet.interfaces import IReactorTime
from twisted.web.client import RequestTransmissionFailed, ResponseFailed
from twisted.web.http_headers import Headers

from action_llama.credentials import PROVIDER_KEY_TYPES
from action_llama.runtime import CREDENTIAL_ENV

#: The API root of each known provider, when ``baseUrl`` is not set.
DEFAULT_BASE_URLS: Mapping[str, str] = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com/v1",
    "groq": "https://api.groq.com/openai/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "xai": "https://api.x.ai/v1",
    "mistral": "https://api.mistral.ai/v1",
    "google": "https://generativelanguage.googleapis.com/v1beta/openai",
}

#: The ``authType`` values a session can use.
AUTH_TYPES = frozenset({"api_key", "oauth_token"})

#: How a failed request is handled: ``rate_limited`` skips the model for a
#: while, ``transient`` is retried, ``auth`` counts towards giving up, and
#: ``refused`` will fail again however often it is sent.
ErrorKind = Literal["rate_limited", "transient", "auth", "refused"]

#: Longest piece of an API's error text kept in a reason.
_MAX_DETAIL = 300


class SessionError(Exception):
    """
    The session cannot go on; the message says why, in words a person can
    act on.
    """


class ModelAPIError(Exception):
    """
    A request to a model API failed.

    :ivar kind: how to handle it.
    :ivar reason: what happened, such as ``HTTP 429: rate limit exceeded``.
    """

    def __init__(self, kind: ErrorKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@frozen
class ModelSettings:
    """
    One model a session may ask, from the run file's ``models``.

    :ivar name: its ``[models.<name>]``.
    :ivar provider: the provider.
    :ivar model: the provider's model id.
    :ivar base_url: the API root, without a trailing slash.
    :ivar api_key: the key, or ``None`` for a custom server that needs none.
    :ivar auth_type: ``api_key`` or ``oauth_token``.
    :ivar thinking_level: the ``thinkingLevel``, if set.
    """

    name: str
    provider: str
    model: str
    base_url: str
    api_key: str | None
    auth_type: str = "api_key"
    thinking_level: str | None = None

    @property
    def breaker_key(self) -> str:
        """
        What the circuit breaker knows this model by: the same model behind
        the same API is one model, whatever the project calls it.
        """
        return f"{self.base_url} {self.model}"


def key_variable(provider: str) -> str:
    """
    The variable that holds ``provider``'s key in a run.
    """
    return CREDENTIAL_ENV[PROVIDER_KEY_TYPES[provider], "token"][0]


def model_settings(
    entry: Mapping[str, Any], environ: Mapping[str, str]
) -> ModelSettings:
    """
    The settings of one model of the run file.

    :param entry: ``{"name", "provider", "model", "authType",
        "thinkingLevel", "baseUrl"}``.
    :param environ: the run's environment, which holds the keys.
    :raises SessionError: if the model cannot be used: an unknown provider or
        auth type, a custom provider without ``baseUrl``, or a missing key.
    """
    name = str(entry.get("name") or entry.get("model") or "?")
    provider = str(entry.get("provider") or "")
    auth_type = entry.get("authType") or "api_key"
    base_url = entry.get("baseUrl") or DEFAULT_BASE_URLS.get(provider)
    if provider not in PROVIDER_KEY_TYPES:
        raise SessionError(f"model {name} has an unknown provider {provider!r}")
    if auth_type not in AUTH_TYPES:
        raise SessionError(
            f"model {name} uses authType {auth_type!r}, which runs cannot use;"
            " use api_key"
        )
    if base_url is None:
        raise SessionError(
            f"model {name} has provider {provider!r}, which needs a baseUrl in"
            f" [models.{name}]"
        )
    variable = key_variable(provider)
    api_key = environ.get(variable) or None
    if api_key is None and provider != "custom":
        key_type = PROVIDER_KEY_TYPES[provider]
        raise SessionError(
            f"model {name} needs {variable}, which this run does not have: add"
            f" {key_type!r} to the agent's credentials and store it with"
            f" `al creds add {key_type}`"
        )
    return ModelSettings(
        name=name,
        provider=provider,
        model=str(entry.get("model") or ""),
        base_url=str(base_url).rstrip("/"),
        api_key=api_key,
        auth_type=auth_type,
        thinking_level=entry.get("thinkingLevel"),
    )


def error_kind(status: int) -> ErrorKind:
    """
    How to handle an answer with HTTP status ``status`` (not 200).
    """
    if status in (401, 403):
        return "auth"
    if status in (429, 503, 529):
        return "rate_limited"
    if status >= 500 or status == 408:
        return "transient"
    return "refused"


async def post_json(
    client: HTTPClient,
    clock: IReactorTime,
    url: str,
    headers: Mapping[str, str],
    body: Any,
    timeout: float,
) -> Any:
    """
    Send ``body`` as JSON and decode the JSON answer.

    :param client: sends the request.
    :param clock: times the request out.
    :param url: where to send it.
    :param headers: the request's headers.
    :param body: the JSON-able body.
    :param timeout: seconds the whole exchange may take.
    :returns: the decoded answer of a 200.
    :raises ModelAPIError: for any other status, an answer that is not JSON,
        a connection that fails or an exchange that takes too long.
    """
    exchange = ensureDeferred(_exchange(client, url, headers, body))
    exchange.addTimeout(timeout, clock, onTimeoutCancel=_timed_out)
    try:
        status, raw = await exchange
    except (
        ConnectError,
        ConnectionClosed,
        OSError,
        ResponseFailed,
        RequestTransmissionFailed,
    ) as e:
        raise ModelAPIError("transient", f"connection failed: {e}") from None
    if status != 200:
        raise ModelAPIError(error_kind(status), f"HTTP {status}: {_detail(raw)}")
    try:
        return json.loads(raw)
    except ValueError:
        raise ModelAPIError(
            "transient", f"the answer is not JSON: {_detail(raw)}"
        ) from None


async def _exchange(
    client: HTTPClient, url: str, headers: Mapping[str, str], body: Any
) -> tuple[int, bytes]:
    """
    One request and its whole answer.

    :returns: the status and the body.
    """
    response = await client.post(
        url,
        data=json.dumps(body).encode("utf-8"),
        headers=Headers({name: [value] for name, value in headers.items()}),
    )
    raw: bytes = await response.content()
    return response.code, raw


def _timed_out(result: object, timeout: float) -> NoReturn:
    """
    Turn whatever a request that timed out failed with into the reason.
    """
    raise ModelAPIError("transient", f"no answer within {timeout:g} s")


def _detail(raw: bytes) -> str:
    """
    The gist of an API's answer: its error message if it has one, else the
    start of its text.
    """
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        error = answer.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:_MAX_DETAIL]
        if isinstance(error, str):
            return error[:_MAX_DETAIL]
    text = raw.decode("utf-8", errors="replace").strip()
    return text[:_MAX_DETAIL] or "no details"
