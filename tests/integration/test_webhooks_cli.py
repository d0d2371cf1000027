"""
``al webhook replay`` as a user runs it, in a real process: which agents a
fixture would run and why, offline; errors a person can act on; and
``--run``, which runs the first match once in the foreground.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.interfaces import IReactorFromThreads

from action_llama.store import Database
from tests.helpers import spawn

from .harness import within
from .webhook_harness import FIXTURES, write_webhook_project

#: ``al``, run with this interpreter.
AL_WITH_WEBHOOK = [sys.executable, "-m", "action_llama"]


def project(root: Path) -> Path:
    """
    An unsigned Slack source listed before a GitHub one; an agent on opened
    issues, one on pushes, and one on the ``/weather`` Slack command.
    """
    return write_webhook_project(
        root,
        {"slack": ("slack", None), "github": ("github", "test")},
        {
            "pusher": {"webhooks": [{"source": "github", "events": ["push"]}]},
            "triage": {
                "webhooks": [
                    {"source": "github", "events": ["issues"], "labels": ["wontfix"]},
                    {"source": "github", "events": ["issues"], "actions": ["opened"]},
                ]
            },
            "weather": {"webhooks": [{"source": "slack", "commands": ["/weather"]}]},
        },
    )


def write_fixture(path: Path, headers: dict[str, str], body: Any) -> Path:
    """
    Write a replay fixture.
    """
    path.write_text(json.dumps({"headers": headers, "body": body}))
    return path


def issue_fixture(tmp_path: Path) -> Path:
    """
    A fixture of GitHub's ``issues`` ``opened`` example.
    """
    body = json.loads((FIXTURES / "github" / "issues.opened.json").read_text())
    headers = {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "72d3162e"}
    return write_fixture(tmp_path / "issue.json", headers, body)


async def al_webhook(root: Path, *args: str) -> tuple[int, str]:
    """
    Run ``al webhook replay -p root ARGS`` with no gateway reachable.

    :returns: its exit code and its output.
    """
    process = spawn(
        reactor,
        [*AL_WITH_WEBHOOK, "webhook", "replay", "-p", str(root), *args],
        env={"AL_GATEWAY_URL": "http://127.0.0.1:1"},
    )
    code = await within(process.ended, "al webhook replay", timeout=30)
    return code, process.output


@pytest_twisted.ensureDeferred
async def test_replay_shows_the_matches_and_why(tmp_path: Path) -> None:
    """
    A GitHub fixture is read through the first GitHub source, and the output
    names the agents it would run, each filter's verdict, and the agents
    that do not listen to that source; nothing is stored.
    """
    root = project(tmp_path / "p")
    code, output = await al_webhook(root, str(issue_fixture(tmp_path)))
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "Source: github (github), chosen by the fixture's " + (
        "x-github-event header"
    )
    assert "Event: issues, action opened" in lines
    assert "  repo: Codertocat/Hello-World" in lines
    assert "Would run: triage" in lines
    [pusher] = [line for line in lines if line.startswith("  pusher")]
    assert "no match" in pusher and "events=push NO" in pusher
    [triage, second] = [line for line in lines if "[[webhooks]]" in line][1:]
    assert "matches" in triage and "labels=wontfix NO" in triage
    assert "#2: events=issues yes, actions=opened yes" in second
    assert "Not triggered by github: weather" in lines
    assert not (root / ".al" / "action-llama.db").exists()


@pytest_twisted.ensureDeferred
async def test_replay_reads_a_string_body_through_the_given_source(
    tmp_path: Path,
) -> None:
    """
    A body given as a string is sent as it is (here a form-encoded Slack
    command), through the source named with ``--source``.
    """
    root = project(tmp_path / "p")
    form = (FIXTURES / "slack" / "slash_command.form").read_text()
    fixture = write_fixture(
        tmp_path / "command.json",
        {"Content-Type": "application/x-www-form-urlencoded"},
        form,
    )
    code, output = await al_webhook(root, str(fixture), "--source", "slack")
    assert code == 0, output
    assert "Source: slack (slack), given with --source" in output
    assert "Event: slash_command" in output
    assert "Would run: weather" in output


@pytest_twisted.ensureDeferred
async def test_replay_says_a_handshake_runs_nothing(tmp_path: Path) -> None:
    """
    A Slack ``url_verification`` challenge is shown as a handshake the
    gateway answers itself.
    """
    root = project(tmp_path / "p")
    fixture = write_fixture(
        tmp_path / "challenge.json",
        {"X-Slack-Request-Timestamp": "1716199200"},
        json.loads((FIXTURES / "slack" / "url_verification.json").read_text()),
    )
    code, output = await al_webhook(root, str(fixture))
    assert code == 0, output
    assert "This is a slack handshake" in output
    assert "Would run" not in output


@pytest.mark.parametrize(
    ("fixture", "args", "message"),
    [
        ({"headers": {}, "body": {}}, ["--source", "nope"], "no webhook source 'nope'"),
        (
            {"headers": {"X-GitHub-Delivery": "1"}, "body": [1, 2]},
            [],
            "cannot be read as a github delivery",
        ),
        ({"headers": {}, "body": {}}, [], "pass --source (sources: slack, github)"),
        ({"body": {}, "headers": ["x"]}, [], '"headers" in'),
        ({"headers": {}}, [], "is not"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_replay_errors_are_one_line(
    tmp_path: Path, fixture: dict[str, Any], args: list[str], message: str
) -> None:
    """
    An unknown source, an unreadable delivery, a source that cannot be told
    from the headers, or a file that is not a fixture ends with exit code 1
    and one line saying so.
    """
    root = project(tmp_path / "p")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(fixture))
    code, output = await al_webhook(root, str(path), *args)
    assert code == 1, output
    assert message in output
    assert "Traceback" not in output


def runs(root: Path) -> list[sqlite3.Row]:
    """
    Every run recorded in the project's database.
    """
    db = Database(root / ".al" / "action-llama.db", IReactorFromThreads(reactor))
    rows: list[sqlite3.Row] = db.run_sync(
        lambda conn: conn.execute("SELECT * FROM runs").fetchall()
    )
    return rows


@pytest_twisted.ensureDeferred
async def test_replay_run_runs_the_first_match_once(tmp_path: Path) -> None:
    """
    ``--run`` runs the first matching agent once in the foreground, without
    a gateway, and exits with its exit code.
    """
    root = project(tmp_path / "p")
    code, output = await al_webhook(root, str(issue_fixture(tmp_path)), "--run")
    assert code == 0, output
    assert "Running triage once" in output
    [run] = runs(root)
    assert (run["agent"], run["outcome"]) == ("triage", "completed")
    assert (root / ".al" / f"seen-{run['instance_id']}.json").exists()


@pytest_twisted.ensureDeferred
async def test_replay_run_gives_the_delivery_as_trigger(tmp_path: Path) -> None:
    """
    The run ``--run`` starts is given the delivery as a webhook trigger,
    with its parsed context.
    """
    root = project(tmp_path / "p")
    code, output = await al_webhook(root, str(issue_fixture(tmp_path)), "--run")
    assert code == 0, output
    [run] = runs(root)
    seen = json.loads((root / ".al" / f"seen-{run['instance_id']}.json").read_text())
    assert seen["type"] == "webhook"
    assert seen["context"]["event"] == "issues"
