"""
Golden tests for the prompts of each kind of trigger, and tests of the
credential context.

The golden files are ``golden/<kind>.txt``. After a deliberate change to the
prompts, rewrite them with ``UPDATE_GOLDEN=1 pytest tests/agent/session``
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from action_llama.agent.session._prompt import system_prompt, user_prompt

GOLDEN = Path(__file__).parent / "golden"

#: The run's credential variables: their values must never show.
ENVIRON = {
    "GITHUB_TOKEN": "ghp_secret_value",
    "GH_TOKEN": "ghp_secret_value",
    "ANTHROPIC_API_KEY": "sk-ant-secret",
    "GIT_SSH_COMMAND": "ssh -i /runs/x/credentials/git_ssh/default/id_rsa",
    "AL_CRED_DEPLOY_HOOK_URL": "https://hooks.example/secret",
    "PATH": "/usr/bin",
}

INSTRUCTIONS = """\
# Dev agent

You fix GitHub issues. Read the repositories from `<agent-config>`.
"""

PARAMS = {"repos": ["acme/app", "acme/api"], "triggerLabel": "agent"}

TRIGGERS: dict[str, dict[str, Any]] = {
    "webhook": {
        "type": "webhook",
        "source": "acme-github",
        "receiptId": "rcpt-7f3a",
        "callId": None,
        "depth": 0,
        "context": {
            "event": "issues",
            "action": "labeled",
            "repo": "acme/app",
            "number": 7,
            "title": "Crash on start",
            "labels": ["agent"],
            "url": "https://github.com/acme/app/issues/7",
        },
    },
    "agent-call": {
        "type": "agent-call",
        "source": "dev",
        "receiptId": None,
        "callId": "call-91c2",
        "depth": 1,
        "context": {
            "caller": "dev",
            "callerInstance": "dev-1a2b3c4d",
            "context": "Review PR acme/app#12 and say LGTM or what to fix.",
        },
    },
    "cron": {
        "type": "cron",
        "source": "schedule",
        "receiptId": None,
        "callId": None,
        "depth": 0,
        "context": {},
    },
    "manual": {
        "type": "manual",
        "source": "dashboard",
        "receiptId": None,
        "callId": None,
        "depth": 0,
        "context": {},
    },
}


def prompts(trigger: dict[str, Any]) -> str:
    """
    Both prompts of a run of the dev agent with ``trigger``, as one text.
    """
    run = {"instructions": INSTRUCTIONS, "params": PARAMS, "trigger": trigger}
    return (
        "=== system ===\n"
        + system_prompt(INSTRUCTIONS)
        + "=== user ===\n"
        + user_prompt(run, ENVIRON, "/runs/dev-1a2b3c4d/work")
    )


@pytest.mark.parametrize("kind", sorted(TRIGGERS))
def test_prompts_match_golden_file(kind: str) -> None:
    """
    The prompts of each kind of trigger are exactly those in its golden
    file.
    """
    path = GOLDEN / f"{kind}.txt"
    text = prompts(TRIGGERS[kind])
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)

    assert text == path.read_text()


@pytest.mark.parametrize("kind", sorted(TRIGGERS))
def test_prompts_never_hold_credential_values(kind: str) -> None:
    """
    The prompts name the credential variables but hold none of their values.
    """
    text = prompts(TRIGGERS[kind])

    for name in ("GITHUB_TOKEN", "ANTHROPIC_API_KEY", "AL_CRED_DEPLOY_HOOK_URL"):
        assert f"${name}" in text
        assert ENVIRON[name] not in text


def test_run_without_credentials_says_so() -> None:
    """
    A run with no credential variables is told it has none.
    """
    run = {"trigger": {"type": "cron"}}

    text = user_prompt(run, {"PATH": "/usr/bin"}, "/w")

    assert "<credential-context>\nThis run has no credentials.\n" in text
    assert "<agent-config>\n{}\n</agent-config>" in text


def test_rerun_and_manual_context() -> None:
    """
    A rerun is told why it runs; a manual trigger's context is passed on.
    """
    rerun = user_prompt({"trigger": {"type": "rerun"}}, {}, "/w")
    manual = user_prompt(
        {"trigger": {"type": "manual", "source": "api", "context": {"pr": 12}}},
        {},
        "/w",
    )

    assert "`al-rerun`" in rerun
    assert "(from api). Do your work now." in manual
    assert manual.endswith('came with this context:\n{\n  "pr": 12\n}\n')
