"""
How ``al`` commands talk to the running gateway.

The gateway is at ``http://127.0.0.1:<port>``, the port from the project's
``[gateway].port``; the environment variable ``AL_GATEWAY_URL`` (for
example ``http://127.0.0.1:8181``) overrides that, for a gateway started
with ``al start --port`` and for tests. Requests carry the gateway API key
from the credential store as a Bearer token.

Every way a request can fail becomes a `GatewayError` whose message is one
line a person can act on: the gateway is not running, the key is missing or
refused, or the server's own ``{"error": ...}`` reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from typing import Any

from attrs import frozen
from treq.client import HTTPClient
from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectError, ConnectingCancelledError
from twisted.web.client import Agent, ResponseFailed

from ..config import ProjectConfig
from ..credentials import CredentialStore
from ._common import CLIError

#: The environment variable that overrides the gateway's base URL.
GATEWAY_URL_ENV = "AL_GATEWAY_URL"

#: Seconds to wait for the gateway's answer.
TIMEOUT = 30.0


class GatewayError(CLIError):
    """
    A request to the gateway that did not get an answer it accepts.
    """


class GatewayNotRunning(GatewayError):
    """
    Nothing listens at the gateway's address.
    """


def gateway_url(project: ProjectConfig) -> str:
    """
    The base URL of ``project``'s gateway, without a trailing slash.
    """
    override = os.environ.get(GATEWAY_URL_ENV)
    if override:
        return override.rstrip("/")
    return f"http://127.0.0.1:{project.gateway.port}"


@frozen
class Answer:
    """
    The gateway's answer to one request.

    :ivar code: the HTTP status.
    :ivar body: the decoded JSON object.
    """

    code: int
    body: dict[str, Any]


class GatewayClient:
    """
    Sends JSON requests to one gateway and checks its answers.

    :param http: the HTTP client every request goes through.
    :param base_url: the gateway's base URL, without a trailing slash.
    :param key: the gateway API key; ``None`` if there is none, in which
        case requests go without one and a 401 says so.
    """

    def __init__(self, http: HTTPClient, base_url: str, key: str | None) -> None:
        self._http = http
        self.base_url = base_url
        self._key = key

    @classmethod
    def for_project(cls, reactor: Any, project: ProjectConfig) -> GatewayClient:
        """
        A client for ``project``'s gateway, with the key from the credential
        store under ``$HOME``.
        """
        return cls(
            HTTPClient(Agent(reactor)),
            gateway_url(project),
            CredentialStore().gateway_key(),
        )

    async def get(self, path: str) -> dict[str, Any]:
        """
        ``GET path`` and give the JSON body of its 200 answer.

        :raises GatewayError: for any other outcome.
        """
        return (await self.request("GET", path)).body

    async def post(self, path: str, body: Any = None) -> dict[str, Any]:
        """
        ``POST path`` (with ``body`` as JSON, if given) and give the JSON body
        of its 200 answer.

        :raises GatewayError: for any other outcome.
        """
        return (await self.request("POST", path, body=body)).body

    async def request(
        self,
        method: str,
        path: str,
        accept: Collection[int] = (200,),
        body: Any = None,
    ) -> Answer:
        """
        Send one request and give its answer if its status is one of
        ``accept``.

        :raises GatewayNotRunning: if nothing listens at the base URL.
        :raises GatewayError: if the gateway does not answer in time, refuses
            the key (or there is none), or answers with another status; the
            message is then the server's reason.
        """
        headers: dict[str | bytes, list[str | bytes]] = {"Accept": ["application/json"]}
        if self._key is not None:
            headers["Authorization"] = [f"Bearer {self._key}"]
        url = self.base_url + path
        try:
            response = await self._http.request(
                method,
                url,
                headers=headers,
                timeout=TIMEOUT,
                **({} if body is None else {"json": body}),
            )
            content = await response.content()
        except ConnectError:
            raise GatewayNotRunning(
                f"the gateway is not running at {self.base_url} — start it with "
                "`al start`"
            ) from None
        except (CancelledError, ConnectingCancelledError, ResponseFailed) as e:
            raise GatewayError(
                f"the gateway at {self.base_url} did not answer {method} {path} "
                f"({_why(e)})"
            ) from None
        decoded = _decode(content)
        if response.code in accept:
            return Answer(response.code, decoded)
        if response.code == 401:
            if self._key is None:
                raise GatewayError("no gateway API key; run `al doctor`")
            raise GatewayError(
                "the gateway refused the API key; was it regenerated? run `al doctor`"
            )
        reason = decoded.get("error")
        if not isinstance(reason, str) or not reason:
            reason = f"the gateway answered {method} {path} with {response.code}"
        raise GatewayError(reason)


def _decode(content: bytes) -> dict[str, Any]:
    """
    A JSON object body, or an empty one for anything else.
    """
    try:
        decoded = json.loads(content)
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _why(error: Exception) -> str:
    """
    A few words on why a request got no answer.
    """
    if isinstance(error, CancelledError | ConnectingCancelledError):
        return f"no answer within {TIMEOUT:g} s"
    return "the connection closed before the answer"
