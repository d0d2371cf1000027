"""
GitHub webhooks.

GitHub signs the raw body: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256
of the body under the webhook secret>``.  The event is ``X-GitHub-Event``, the
delivery id ``X-GitHub-Delivery`` (a redelivery keeps it).  The body is JSON,
or, when the hook's content type is ``application/x-www-form-urlencoded``,
the same JSON in a ``payload`` form field; the signature covers the body as
sent either way.  GitHub has no handshake: a new hook's ``ping`` is an
ordinary delivery.  Deliveries carry no time of sending, so the context's
``timestamp`` is ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._model import (
    ORG_FILTERS,
    Headers,
    NoHandshake,
    ParseError,
    Verdict,
    WebhookContext,
)
from ._payload import (
    FORM,
    compact,
    content_type,
    hmac_verdict,
    integer,
    items,
    load_form,
    load_json,
    names,
    obj,
    text,
)

_SUBJECTS = (
    "issue",
    "pull_request",
    "discussion",
    "release",
    "workflow_run",
    "workflow_job",
    "check_run",
    "check_suite",
)
"""
Payload keys of the object a delivery is about, in order of preference.
"""

_RUNS = ("check_run", "check_suite", "workflow_run", "workflow_job")
"""
Payload keys of the checks and workflows that end with a conclusion.
"""


class GitHubProvider(NoHandshake):
    """
    Verify and read GitHub deliveries.
    """

    name = "github"
    secret_type = "github_webhook_secret"
    filter_fields = ORG_FILTERS | {
        "repos",
        "events",
        "actions",
        "labels",
        "assignee",
        "author",
        "branches",
        "conclusions",
    }

    def verify(
        self,
        headers: Headers,
        body: bytes,
        secret: Mapping[str, str] | None,
        now: float,
    ) -> Verdict:
        """
        Check ``X-Hub-Signature-256`` against the ``secret`` field.

        :param headers: the request headers.
        :param body: the raw request body.
        :param secret: the ``github_webhook_secret`` fields, or ``None``.
        :param now: unused: GitHub's scheme has no timestamp.
        """
        return hmac_verdict(
            secret,
            "secret",
            headers.get("x-hub-signature-256"),
            body,
            lambda digest: "sha256=" + digest.hex(),
        )

    def delivery_id(self, headers: Headers, body: bytes) -> str | None:
        """
        The ``X-GitHub-Delivery`` header.

        :param headers: the request headers.
        :param body: unused.
        """
        return headers.get("x-github-delivery") or None

    def parse(self, headers: Headers, body: bytes) -> WebhookContext:
        """
        Read a delivery of any event.

        :param headers: the request headers; ``X-GitHub-Event`` is required.
        :param body: the raw JSON or form body.
        :raises ParseError: if the event header is missing or the body is
            not a JSON object.
        """
        event = headers.get("x-github-event")
        if not event:
            raise ParseError("the X-GitHub-Event header is missing")
        payload = _read_body(headers, body)
        subject = _subject(payload)
        return WebhookContext(
            provider=self.name,
            event=event,
            action=text(payload, "action"),
            repo=text(payload, "repository", "full_name"),
            org=(
                text(payload, "organization", "login")
                or text(payload, "repository", "owner", "login")
            ),
            number=integer(subject, "number"),
            title=_title(payload, subject),
            body=text(subject, "body"),
            url=text(subject, "html_url") or text(payload, "compare"),
            author=_author(payload, subject),
            labels=names(subject, "labels"),
            assignee=(
                text(subject, "assignee", "login") or text(payload, "assignee", "login")
            ),
            branch=_branch(payload, subject),
            conclusion=next(
                filter(None, (text(payload, run, "conclusion") for run in _RUNS)),
                None,
            ),
            sender=text(payload, "sender", "login"),
            extras=_extras(payload),
        )


def _read_body(headers: Headers, body: bytes) -> dict[str, Any]:
    if content_type(headers) != FORM:
        return load_json(body)
    form = load_form(body)
    if "payload" not in form:
        raise ParseError("the form body has no payload field")
    return load_json(form["payload"])


def _subject(payload: dict[str, Any]) -> dict[str, Any] | None:
    for key in _SUBJECTS:
        found = obj(payload, key)
        if found is not None:
            return found
    return None


def _title(payload: dict[str, Any], subject: dict[str, Any] | None) -> str | None:
    return (
        text(subject, "title")
        or text(subject, "display_title")
        or text(subject, "name")
        or text(subject, "tag_name")
        or text(payload, "head_commit", "message")
    )


def _author(payload: dict[str, Any], subject: dict[str, Any] | None) -> str | None:
    return (
        text(subject, "user", "login")
        or text(subject, "author", "login")
        or text(subject, "actor", "login")
        or text(payload, "head_commit", "author", "username")
        or text(payload, "pusher", "name")
    )


def _branch(payload: dict[str, Any], subject: dict[str, Any] | None) -> str | None:
    """
    The branch: a pull request's base, a pushed or created branch, or the
    head branch of a check or workflow run.
    """
    base = text(subject, "base", "ref")
    if base is not None:
        return base
    ref = text(payload, "ref")
    if ref is not None:
        if ref.startswith("refs/heads/"):
            return ref.removeprefix("refs/heads/")
        return ref if text(payload, "ref_type") == "branch" else None
    return text(subject, "head_branch") or text(subject, "check_suite", "head_branch")


def _extras(payload: dict[str, Any]) -> dict[str, Any]:
    pull_requests = [
        number
        for run in _RUNS
        for pull_request in items(payload, run, "pull_requests")
        if (number := integer(pull_request, "number")) is not None
    ]
    return compact(
        comment=text(payload, "comment", "body"),
        commentUrl=text(payload, "comment", "html_url"),
        review=text(payload, "review", "body"),
        reviewState=text(payload, "review", "state"),
        reviewUrl=text(payload, "review", "html_url"),
        ref=text(payload, "ref"),
        refType=text(payload, "ref_type"),
        label=text(payload, "label", "name"),
        pullRequests=pull_requests or None,
        installationId=integer(payload, "installation", "id"),
        zen=text(payload, "zen"),
        hookId=integer(payload, "hook_id"),
    )


PROVIDER = GitHubProvider()
"""
The GitHub provider.
"""
