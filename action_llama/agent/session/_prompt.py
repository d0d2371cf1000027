"""
The prompts of a session (SPEC 5.4).

The system prompt is a preamble that teaches the agent commands, then the
agent's SKILL.md body. The user prompt gives the agent's ``[params]``
(``<agent-config>``), which credentials the run has and the rule never to
reveal them (``<credential-context>``, from the names of the variables only),
where it works (``<environment>``), and why it runs: a ``<webhook-trigger>``,
a ``<skill-subagent>`` call, or a sentence for a scheduled or manual run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from action_llama.runtime import CREDENTIAL_ENV

from ...runtime._masking import GENERIC_PREFIX, credential_names
from ._bash import DEFAULT_TIMEOUT, MAX_TIMEOUT, OUTPUT_LIMIT

PREAMBLE = f"""\
You are an autonomous agent run by Action Llama. No person reads your replies \
while you work: act through the `bash` tool until the task is done, then end \
with a short summary of what you did.

## The bash tool

Each call runs one command line with bash, in a fresh shell that starts in the \
working directory: `cd` and shell variables do not carry over to the next call. \
A call is killed after {DEFAULT_TIMEOUT} s unless you pass a longer `timeout` \
(at most {MAX_TIMEOUT} s). Output beyond {OUTPUT_LIMIT} characters is cut in \
the middle, so filter long output with grep, head or tail.

## Agent commands

These commands are on your PATH. Each prints one line of JSON and exits \
non-zero when it fails: read the answer before you go on.

- `al-status "<text>"`: show a short live status on the dashboard and in \
`al stat`. Set one when you start each step of your work.
- `al-return "<value>"`: give the agent that called you its result (or pipe \
the value on stdin). Only runs started by another agent have a caller; the \
last value you return is the one it gets.
- `al-rerun`: start this agent again as soon as this run ends, when a \
scheduled run leaves work for the next one. Only scheduled runs rerun, up to \
a limit the project sets.
- `al-exit [code]`: end the run with that exit code (default 15) as soon as \
the current command is over. Use it to abort when you cannot go on; to finish \
normally, just stop.
- `rlock "<uri>"`: take the exclusive lock on a resource before you work on \
it, naming it by a URI such as `github://owner/repo/issues/42`. If the answer \
is `"ok": false`, another run holds it: leave that resource alone. An answer \
that reports a possible deadlock means you must release a lock you hold.
- `runlock "<uri>"`: release a lock once you are done with the resource. The \
locks a run holds are also released when it ends.
- `rlock-heartbeat "<uri>"`: keep a lock during long work; a lock that is not \
renewed expires after the project's lock timeout.
- `al-subagent <agent>`: call another agent, with the context on stdin \
(`echo '{{"issue": 42}}' | al-subagent reviewer`). It prints \
`{{"ok": true, "callId": "..."}}`; the call runs on its own while you go on.
- `al-subagent-check <callId>`: the state of a call and, once it has \
completed, the value it returned.
- `al-subagent-wait <callId>... [--timeout N]`: wait until the calls have \
finished (at most N seconds, default 900) and print their results.
- `setenv NAME value`: set an environment variable for every later bash call \
and for the agent's post-hooks.

# Your instructions
"""

#: What each credential type's variables give, by type.
_CREDENTIAL_USES: Mapping[str, str] = {
    "github_token": (
        "GitHub token: the `gh` CLI uses it; run `gh auth setup-git` once for"
        " git over HTTPS"
    ),
    "sentry_token": "Sentry auth token: `sentry-cli` and the Sentry API",
    "linear_token": "Linear API key: the Linear API",
    "anthropic_key": "Anthropic API key",
    "openai_key": "OpenAI API key",
    "groq_key": "Groq API key",
    "openrouter_key": "OpenRouter API key",
    "xai_key": "xAI API key",
    "mistral_key": "Mistral API key",
    "google_key": "Google API key",
    "custom_key": "API key of the custom model server",
}

_NO_SECRETS = """\
Never print, echo, log or write the value of a credential anywhere: not in \
command output, files, commits, issues, pull requests, comments, `al-status` \
or `al-return`. Use the variables by name ($NAME) in commands. Values that \
show up in output anyway are masked as ***."""


def system_prompt(instructions: str) -> str:
    """
    The system prompt: the preamble, then the agent's instructions.

    :param instructions: the SKILL.md body.
    """
    return f"{PREAMBLE}\n{instructions.strip()}\n"


def user_prompt(
    run: Mapping[str, Any], environ: Mapping[str, str], work_dir: str
) -> str:
    """
    The first user message of a session.

    :param run: the run file (``params``, ``trigger``).
    :param environ: the run's environment; only the names of its credential
        variables are used, never their values.
    :param work_dir: the run's working directory.
    """
    params = json.dumps(run.get("params") or {}, indent=2, ensure_ascii=False)
    sections = [
        f"<agent-config>\n{params}\n</agent-config>",
        f"<credential-context>\n{_credentials(environ)}\n</credential-context>",
        f"<environment>\n{_environment(work_dir)}\n</environment>",
        _trigger(run.get("trigger") or {}),
    ]
    return "\n\n".join(sections) + "\n"


def _credentials(environ: Mapping[str, str]) -> str:
    """
    The ``<credential-context>`` text: which variables the staged credentials
    provide and what for, then the rule.
    """
    present = set(credential_names(environ))
    lines = []
    for (kind, _), names in CREDENTIAL_ENV.items():
        shown = [name for name in names if name in present]
        if shown:
            use = _CREDENTIAL_USES.get(kind, f"the {kind} credential")
            lines.append(f"- {', '.join(f'${n}' for n in shown)}: {use}")
    generic = sorted(n for n in present if n.startswith(GENERIC_PREFIX))
    if generic:
        lines.append(
            f"- {', '.join(f'${n}' for n in generic)}: other credential fields"
        )
    if "GIT_SSH_COMMAND" in environ:
        lines.append("- git over SSH uses the run's deploy key ($GIT_SSH_COMMAND)")
    if not lines:
        return "This run has no credentials."
    return "The run's credentials are in these environment variables:\n" + (
        "\n".join(lines) + f"\n\n{_NO_SECRETS}"
    )


def _environment(work_dir: str) -> str:
    """
    The ``<environment>`` text.
    """
    return (
        f"- Working directory: {work_dir} (also $HOME). Every bash call starts"
        " here.\n"
        f"- Writable: {work_dir} and /tmp. Keep your files in the working"
        " directory; it is private to this run.\n"
        "- `setenv NAME value` sets a variable for every later bash call and"
        " for the post-hooks; `export` lasts for one call only."
    )


def _trigger(trigger: Mapping[str, Any]) -> str:
    """
    Why the agent runs: the trigger block.
    """
    kind = trigger.get("type")
    context = dict(trigger.get("context") or {})
    if kind in ("webhook", "replay"):
        event = {"source": trigger.get("source"), **context}
        event["receiptId"] = trigger.get("receiptId") or context.get("receiptId")
        return (
            "You were started by this webhook event; handle it.\n"
            f"<webhook-trigger>\n{_json(event)}\n</webhook-trigger>"
        )
    if kind == "agent-call":
        call = {
            "caller": context.get("caller") or trigger.get("source"),
            "callId": trigger.get("callId"),
            "context": context.get("context"),
        }
        return (
            f"Agent {call['caller']} called you with the context below. When"
            ' you have its answer, give it back with `al-return "<value>"`.\n'
            f"<skill-subagent>\n{_json(call)}\n</skill-subagent>"
        )
    if kind == "cron":
        return "You were started by your schedule. Do your scheduled work now."
    if kind == "rerun":
        return (
            "You were started again at once because the previous scheduled run"
            " asked for it with `al-rerun`. Go on with the scheduled work."
        )
    source = trigger.get("source") or "a person"
    sentence = f"You were started by hand (from {source}). Do your work now."
    if context:
        sentence += f" The trigger came with this context:\n{_json(context)}"
    return sentence


def _json(value: Any) -> str:
    """
    ``value`` as readable JSON.
    """
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
