"""
Reporting a session's token usage to the gateway, which adds it to the run's
record: ``POST $GATEWAY_URL/signals/usage`` with the run secret, as the agent
commands talk to it.

A report is sent after each answer and not waited for, so the next request
to the model does not wait on the gateway; `UsageReporter.flush` waits for
them all before the session ends.
"""

from __future__ import annotations

import json

from treq.client import HTTPClient
from twisted.internet.defer import Deferred, DeferredList, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers

from ._log import SessionLog

#: Seconds one report may take.
REPORT_TIMEOUT = 30.0


class UsageReporter:
    """
    Sends token counts to the gateway.

    :param client: sends the reports.
    :param gateway_url: the gateway's root, or ``""`` when the run has no
        gateway to tell (nothing is sent then).
    :param secret: the run secret.
    :param log: where a failed report is noted.
    :param clock: times the reports out.
    """

    def __init__(
        self,
        client: HTTPClient,
        gateway_url: str,
        secret: str,
        log: SessionLog,
        clock: IReactorTime,
    ) -> None:
        self._client = client
        self._clock = clock
        self._url = f"{gateway_url.rstrip('/')}/signals/usage" if gateway_url else ""
        self._secret = secret
        self._log = log
        self._pending: set[Deferred[None]] = set()

    def report(self, input_tokens: int, output_tokens: int) -> None:
        """
        Add ``input_tokens`` and ``output_tokens`` to the run's counts.
        """
        if not self._url or not (input_tokens or output_tokens):
            return
        d = ensureDeferred(self._send(input_tokens, output_tokens))
        d.addTimeout(REPORT_TIMEOUT, self._clock)
        d.addErrback(self._failed)
        self._pending.add(d)
        d.addBoth(lambda _: self._pending.discard(d))

    def flush(self) -> Deferred[list[tuple[bool, None]]]:
        """
        Wait for the reports on their way.

        :returns: a Deferred that fires once every report has been answered
            or has failed; it never fails.
        """
        return DeferredList(list(self._pending), consumeErrors=True)

    def _failed(self, failure: Failure) -> None:
        """
        Note a report that could not be made; the session goes on.
        """
        reason = failure.getErrorMessage()
        self._log("warn", f"could not report token usage to the gateway: {reason}")

    async def _send(self, input_tokens: int, output_tokens: int) -> None:
        """
        Send one report; note a refusal.
        """
        body = {"inputTokens": input_tokens, "outputTokens": output_tokens}
        response = await self._client.post(
            self._url,
            data=json.dumps(body).encode("utf-8"),
            headers=Headers(
                {
                    "authorization": [f"Bearer {self._secret}"],
                    "content-type": ["application/json"],
                }
            ),
        )
        answer = await response.content()
        if response.code != 200:
            self._log(
                "warn",
                f"the gateway refused the token usage report: HTTP {response.code}"
                f" {answer[:200].decode('utf-8', errors='replace')}",
            )
