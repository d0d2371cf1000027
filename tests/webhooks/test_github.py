"""
Tests for the GitHub provider, on real payloads from
``@octokit/webhooks-examples`` (see ``fixtures/github/README.md``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from action_llama.webhooks import (
    PROVIDERS,
    ParseError,
    Verdict,
    WebhookContext,
    matches,
)

from .support import FIXTURES, NOW, SECRETS, exercised, fixture, sign, trigger

GITHUB = PROVIDERS["github"]

TEST_VECTOR_SIGNATURE = (
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)
"""
GitHub's published signature of ``Hello, World!`` under the secret
``It's a Secret to Everybody``.
"""

HELLO = "Codertocat/Hello-World"
SPELLING = "Spelling error in the README file"
README_PR = "Update the README with new information."

EXPECTED: dict[str, dict[str, Any]] = {
    "check_run.completed.json": {
        "action": "completed",
        "repo": HELLO,
        "org": "Codertocat",
        "title": "Octocoders-linter",
        "url": "https://github.com/Codertocat/Hello-World/runs/128620228",
        "branch": "changes",
        "conclusion": "failure",
    },
    "check_suite.completed.json": {
        "action": "completed",
        "branch": "changes",
        "conclusion": "success",
    },
    "create.json": {"action": None, "repo": HELLO, "branch": None},
    "delete.json": {"action": None, "repo": HELLO, "branch": None},
    "issue_comment.created.json": {
        "action": "created",
        "number": 1,
        "title": SPELLING,
        "url": "https://github.com/Codertocat/Hello-World/issues/1",
        "author": "Codertocat",
        "labels": ("bug",),
        "assignee": "Codertocat",
    },
    "issue_comment.created.org.json": {"org": "Octocoders", "number": 1},
    "issues.labeled.org.json": {
        "action": "labeled",
        "org": "Octocoders",
        "labels": ("bug",),
    },
    "issues.opened.json": {
        "action": "opened",
        "repo": HELLO,
        "org": "Codertocat",
        "number": 1,
        "title": SPELLING,
        "author": "Codertocat",
        "assignee": "Codertocat",
        "branch": None,
        "conclusion": None,
    },
    "ping.json": {"repo": "Octocoders/Hello-World", "org": "Octocoders"},
    "ping.org.json": {"repo": None, "org": "Octocoders"},
    "pull_request.labeled.org.json": {
        "action": "labeled",
        "org": "Octocoders",
        "number": 2,
        "labels": ("bug",),
        "branch": "master",
    },
    "pull_request.opened.json": {
        "action": "opened",
        "repo": HELLO,
        "number": 2,
        "title": README_PR,
        "url": "https://github.com/Codertocat/Hello-World/pull/2",
        "author": "Codertocat",
        "labels": (),
        "assignee": None,
        "branch": "master",
    },
    "pull_request.synchronize.json": {
        "action": "synchronize",
        "number": 2,
        "branch": "master",
    },
    "pull_request_review.submitted.json": {
        "action": "submitted",
        "number": 2,
        "title": README_PR,
        "branch": "master",
    },
    "push.json": {"action": None, "branch": None, "title": "Adding a .gitignore file"},
    "push.branch.json": {"branch": "master", "title": "Initial commit"},
    "push.org.json": {"org": "Octocoders", "branch": None},
    "release.published.json": {
        "action": "published",
        "title": "0.0.1",
        "url": "https://github.com/Codertocat/Hello-World/releases/tag/0.0.1",
        "author": "Codertocat",
    },
    "workflow_run.completed.json": {
        "action": "completed",
        "repo": "octo-org/octo-repo",
        "org": "octo-org",
        "branch": "master",
        "conclusion": "success",
    },
}
"""
Key fields of each fixture, read off the payloads by hand.
"""

FIXTURE_NAMES = sorted(path.name for path in (FIXTURES / "github").glob("*.json"))


def _event(name: str) -> str:
    return name.split(".")[0]


def _parse(name: str) -> WebhookContext:
    headers = {"x-github-event": _event(name), "content-type": "application/json"}
    return GITHUB.parse(headers, fixture(f"github/{name}"))


def test_published_test_vector_verifies() -> None:
    """
    GitHub's published example signature verifies, and fails for another
    body.
    """
    headers = {"x-hub-signature-256": TEST_VECTOR_SIGNATURE}
    secret = {"secret": "It's a Secret to Everybody"}
    assert GITHUB.verify(headers, b"Hello, World!", secret, NOW) == Verdict(True)
    assert not GITHUB.verify(headers, b"Hello, World?", secret, NOW).ok


def test_every_fixture_has_expectations() -> None:
    """
    Every fixture in ``fixtures/github`` has its key fields listed here.
    """
    assert sorted(EXPECTED) == FIXTURE_NAMES


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_parses_to_its_key_fields(name: str) -> None:
    """
    A real payload parses into a context with its event, sender and key
    fields.
    """
    context = _parse(name)
    assert context.provider == "github"
    assert context.event == _event(name)
    assert context.sender == "Codertocat"
    assert context.source is None
    assert context.receipt_id is None
    for field, value in EXPECTED[name].items():
        assert getattr(context, field) == value, field


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_signed_like_github_verifies(name: str) -> None:
    """
    A real payload signed the way GitHub signs verifies, and the signature
    of one payload does not verify another.
    """
    body = fixture(f"github/{name}")
    headers = sign("github", body)
    assert GITHUB.verify(headers, body, SECRETS["github"], NOW) == Verdict(True)
    other = fixture(
        "github/ping.org.json" if "ping.org" not in name else "github/ping.json"
    )
    assert GITHUB.verify(headers, other, SECRETS["github"], NOW).reason == (
        "bad_signature"
    )


def test_form_encoded_delivery_verifies_and_parses_the_same() -> None:
    """
    A form-encoded delivery is signed over the form body and parses to the
    same context as the JSON one.
    """
    text = fixture("github/pull_request.opened.json").decode()
    body = urlencode({"payload": text}).encode()
    headers = {
        "x-github-event": "pull_request",
        "content-type": "application/x-www-form-urlencoded",
        **sign("github", body),
    }
    assert GITHUB.verify(headers, body, SECRETS["github"], NOW) == Verdict(True)
    assert GITHUB.parse(headers, body) == _parse("pull_request.opened.json")


def test_form_without_payload_is_a_parse_error() -> None:
    """
    A form body without a ``payload`` field cannot be parsed.
    """
    headers = {
        "x-github-event": "push",
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
    }
    with pytest.raises(ParseError):
        GITHUB.parse(headers, b"other=1")


def test_missing_event_header_is_a_parse_error() -> None:
    """
    Without ``X-GitHub-Event`` a delivery cannot be parsed.
    """
    with pytest.raises(ParseError):
        GITHUB.parse({}, fixture("github/push.json"))


def test_json_that_is_not_an_object_is_a_parse_error() -> None:
    """
    A JSON body that is not an object cannot be parsed.
    """
    with pytest.raises(ParseError):
        GITHUB.parse({"x-github-event": "push"}, b"[1, 2]")


def test_sha1_signature_alone_is_missing() -> None:
    """
    The legacy SHA-1 ``X-Hub-Signature`` is not accepted in place of the
    SHA-256 one.
    """
    headers = {"x-hub-signature": "sha1=0123456789abcdef0123456789abcdef01234567"}
    verdict = GITHUB.verify(headers, b"{}", SECRETS["github"], NOW)
    assert verdict == Verdict(False, "missing_signature")


def test_delivery_id_is_the_delivery_header() -> None:
    """
    The delivery id is ``X-GitHub-Delivery``, and ``None`` without it.
    """
    delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    body = fixture("github/push.json")
    assert GITHUB.delivery_id({"x-github-delivery": delivery}, body) == delivery
    assert GITHUB.delivery_id({}, body) is None


def test_github_has_no_handshake() -> None:
    """
    Nothing GitHub sends is a handshake, not even ``ping``.
    """
    headers = {"x-github-event": "ping"}
    body = fixture("github/ping.json")
    assert GITHUB.handshake("POST", headers, body, {}, SECRETS["github"]) is None


def test_created_branch_is_the_branch() -> None:
    """
    A ``create`` of a branch (not a tag) gives that branch.
    """
    payload = json.loads(fixture("github/create.json"))
    payload.update(ref="feature/x", ref_type="branch")
    context = GITHUB.parse({"x-github-event": "create"}, json.dumps(payload).encode())
    assert context.branch == "feature/x"
    assert context.extras["refType"] == "branch"


def test_comment_and_review_are_in_the_extras() -> None:
    """
    A comment's text and link, and a review's state, reach the extras.
    """
    comment = _parse("issue_comment.created.json").extras
    review = _parse("pull_request_review.submitted.json").extras
    assert (
        comment["comment"] == "You are totally right! I'll get this fixed right away."
    )
    assert comment["commentUrl"].endswith("#issuecomment-492700400")
    assert review["reviewState"] == "commented"


FILTER_CASES: list[tuple[str, dict[str, str | tuple[str, ...]], bool]] = [
    ("pull_request.opened.json", {"repos": "codertocat/hello-world"}, True),
    ("pull_request.opened.json", {"repos": ("acme/app", "acme/api")}, False),
    ("issues.labeled.org.json", {"orgs": ("acme", "Octocoders")}, True),
    ("issues.labeled.org.json", {"orgs": "Codertocat"}, False),
    ("ping.org.json", {"org": "octocoders"}, True),
    ("ping.org.json", {"org": "acme"}, False),
    ("workflow_run.completed.json", {"organizations": "OCTO-ORG"}, True),
    ("workflow_run.completed.json", {"organizations": "acme"}, False),
    ("push.branch.json", {"events": ("push", "create")}, True),
    ("push.branch.json", {"events": "pull_request"}, False),
    ("pull_request.synchronize.json", {"actions": ("opened", "synchronize")}, True),
    ("pull_request.synchronize.json", {"actions": "opened"}, False),
    ("push.branch.json", {"actions": "opened"}, False),
    ("issues.labeled.org.json", {"labels": ("agent", "BUG")}, True),
    ("issues.labeled.org.json", {"labels": "agent"}, False),
    ("pull_request.opened.json", {"labels": "bug"}, False),
    ("issues.opened.json", {"assignee": "codertocat"}, True),
    ("issues.opened.json", {"assignee": "octocat"}, False),
    ("pull_request.opened.json", {"author": "Codertocat"}, True),
    ("pull_request.opened.json", {"author": "dependabot[bot]"}, False),
    ("pull_request.opened.json", {"branches": ("main", "master")}, True),
    ("pull_request.opened.json", {"branches": "main"}, False),
    ("push.json", {"branches": "master"}, False),
    ("check_run.completed.json", {"conclusions": ("failure", "timed_out")}, True),
    ("check_run.completed.json", {"conclusions": "success"}, False),
    (
        "pull_request.synchronize.json",
        {
            "events": "pull_request",
            "actions": ("opened", "synchronize", "reopened"),
            "branches": "master",
        },
        True,
    ),
    (
        "pull_request.synchronize.json",
        {
            "events": "pull_request",
            "actions": ("opened", "synchronize", "reopened"),
            "branches": "main",
        },
        False,
    ),
]
"""
Fixture, filters, and whether they match.
"""


@pytest.mark.parametrize(("name", "filters", "expected"), FILTER_CASES)
def test_filter(
    name: str, filters: dict[str, str | tuple[str, ...]], expected: bool
) -> None:
    """
    Each GitHub filter field matches the context's value, ignoring case,
    and nothing else.
    """
    assert matches(trigger(**filters), _parse(name)) is expected


def test_filter_cases_cover_every_field() -> None:
    """
    Every GitHub filter field is exercised above, both matching and not.
    """
    assert exercised(FILTER_CASES, True) >= GITHUB.filter_fields
    assert exercised(FILTER_CASES, False) >= GITHUB.filter_fields
