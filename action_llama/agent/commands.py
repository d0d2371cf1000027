"""
The agent commands a run finds on its ``PATH``.

The runtime puts one small wrapper per command on the run's ``PATH``, each
running ``python -m action_llama.agent.commands <command> [args...]``. Every
command talks to the gateway's run routes with the run's secret
(``Authorization: Bearer $AL_RUN_SECRET`` at ``$GATEWAY_URL``), prints the
answer as one line of JSON on stdout (its output *is* its result, so printing
is the point here) and exits 0 if the answer is ``"ok": true``, else 1.
Any failure, the gateway's or ours, prints ``{"ok": false, "error": ...}``.

These run many times per run, so the module imports only the standard
library, and the HTTP client only when a command needs it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

Answer = dict[str, Any]

#: Seconds to wait for one gateway request.
_REQUEST_TIMEOUT = 30.0

#: Seconds between two polls of ``al-subagent-wait``.
_POLL_INTERVAL = 1.0

#: Call states after which a call changes no more.
_FINAL_STATES = frozenset({"completed", "error"})

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class CommandError(Exception):
    """
    A command failed; the message is one sentence a person can act on.
    """


def main(argv: list[str] | None = None) -> int:
    """
    Run one agent command and print its answer.

    :param argv: the command name and its arguments; ``sys.argv[1:]`` if
        ``None``.
    :returns: the exit code: 0 if the answer is ok, else 1.
    """
    args = sys.argv[1:] if argv is None else argv
    try:
        if not args or args[0] not in COMMANDS:
            raise CommandError(f"unknown agent command; known: {', '.join(COMMANDS)}")
        answer = COMMANDS[args[0]](args[1:])
    except CommandError as e:
        answer = {"ok": False, "error": str(e)}
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0 if answer.get("ok") is True else 1


def read_env_file(path: Path) -> dict[str, str]:
    """
    Read the variables ``setenv`` stored for a run.

    :param path: the env file (``$AL_ENV_FILE``).
    :returns: the variables; none if the file does not exist.
    """
    try:
        stored: dict[str, str] = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return stored


def _request(method: str, path: str, body: Answer | None = None) -> Answer:
    """
    Send one request to the gateway and return its JSON answer.

    :param method: ``GET`` or ``POST``.
    :param path: the route, such as ``/signals/status``.
    :param body: the JSON body of a ``POST``.
    :returns: the gateway's answer, with ``ok`` false for an HTTP error.
    :raises CommandError: if the run's settings are missing, or the gateway
        cannot be reached or does not answer with a JSON object.
    """
    # Imported here: it is the slowest import, and setenv never needs it.
    import http.client
    import urllib.error
    import urllib.request

    url = _setting("GATEWAY_URL").rstrip("/") + path
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {_setting('AL_RUN_SECRET')}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=_REQUEST_TIMEOUT) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        raise CommandError(f"cannot reach the gateway at {url}: {reason}") from None
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise CommandError(
            f"the gateway at {url} answered HTTP {status} without a JSON object"
        )
    if status >= 400:
        answer["ok"] = False
        answer.setdefault("error", f"the gateway answered HTTP {status}")
    else:
        answer.setdefault("ok", True)
    return answer


def _setting(name: str) -> str:
    """
    A variable the runtime sets for every run.

    :raises CommandError: if it is not set.
    """
    value = os.environ.get(name)
    if not value:
        raise CommandError(f"{name} is not set; agent commands work only inside a run")
    return value


def _text(args: list[str], usage: str) -> str:
    """
    The arguments as one text, which must not be empty.
    """
    if not args:
        raise CommandError(f"usage: {usage}")
    return " ".join(args)


def _single(args: list[str], usage: str) -> str:
    """
    The one argument a command takes.
    """
    if len(args) != 1:
        raise CommandError(f"usage: {usage}")
    return args[0]


def _status(args: list[str]) -> Answer:
    """
    ``al-status <text>``: show a live status line for the run.
    """
    text = _text(args, "al-status <text>")
    return _request("POST", "/signals/status", {"text": text})


def _rerun(args: list[str]) -> Answer:
    """
    ``al-rerun``: ask for another run once this one ends.
    """
    if args:
        raise CommandError("usage: al-rerun")
    return _request("POST", "/signals/rerun", {})


def _return(args: list[str]) -> Answer:
    """
    ``al-return [value]``: give the calling agent its result (from stdin if
    no value is given).
    """
    value = " ".join(args) if args else sys.stdin.read().rstrip("\n")
    return _request("POST", "/signals/return", {"value": value})


def _exit(args: list[str]) -> Answer:
    """
    ``al-exit [code]``: end the run with ``code`` (default 15) once the
    current step is over.
    """
    code = int(args[0]) if len(args) == 1 and args[0].isdigit() else 15
    if len(args) > 1 or (args and not args[0].isdigit()) or code > 255:
        raise CommandError("usage: al-exit [code], with a code from 0 to 255")
    (Path(_setting("AL_RUN_DIR")) / "exit-code").write_text(str(code))
    return _request("POST", "/signals/exit", {"code": code})


def _lock_command(route: str, usage: str) -> Callable[[list[str]], Answer]:
    """
    A command that sends one resource key to a lock route.
    """

    def command(args: list[str]) -> Answer:
        key = _single(args, usage)
        return _request("POST", route, {"resourceKey": key})

    command.__doc__ = f"``{usage}``"
    return command


def _subagent(args: list[str]) -> Answer:
    """
    ``al-subagent <agent>``: call another agent, with the context on stdin.
    """
    agent = _single(args, "al-subagent <agent> < context")
    piped = sys.stdin is not None and not sys.stdin.isatty()
    context = sys.stdin.read() if piped else ""
    return _request("POST", "/calls", {"targetAgent": agent, "context": context})


def _subagent_check(args: list[str]) -> Answer:
    """
    ``al-subagent-check <callId>``: the state of one call.
    """
    call_id = _single(args, "al-subagent-check <callId>")
    return _request("GET", f"/calls/{quote(call_id, safe='')}")


def _subagent_wait(args: list[str]) -> Answer:
    """
    ``al-subagent-wait <callId>... [--timeout N]``: wait until every call has
    completed or failed, or the timeout (default 900 s) has passed.
    """
    usage = "al-subagent-wait <callId>... [--timeout N]"
    timeout, pending = 900.0, []
    arguments = iter(args)
    for arg in arguments:
        if arg == "--timeout":
            try:
                timeout = float(next(arguments))
            except (StopIteration, ValueError):
                raise CommandError(f"usage: {usage}") from None
        else:
            pending.append(arg)
    if not pending:
        raise CommandError(f"usage: {usage}")
    deadline = time.monotonic() + timeout
    results: dict[str, Answer] = {}
    while True:
        for call_id in list(pending):
            results[call_id] = answer = _subagent_check([call_id])
            if not answer["ok"] or answer.get("status") in _FINAL_STATES:
                pending.remove(call_id)
        if not pending:
            ok = all(
                a["ok"] and a.get("status") == "completed" for a in results.values()
            )
            return {"ok": ok, "results": results}
        if time.monotonic() >= deadline:
            waiting = ", ".join(pending)
            return {
                "ok": False,
                "results": results,
                "error": f"timed out after {timeout:g} s waiting for {waiting}",
            }
        # A command inside a run, not the service: it may block.
        time.sleep(_POLL_INTERVAL)


def _setenv(args: list[str]) -> Answer:
    """
    ``setenv NAME value``: set a variable for the run's later hooks.
    """
    if len(args) != 2:
        raise CommandError("usage: setenv NAME value")
    name, value = args
    if not _NAME.fullmatch(name):
        raise CommandError(
            f"invalid variable name {name!r}: use letters, digits and"
            " underscores, not starting with a digit"
        )
    path = Path(_setting("AL_ENV_FILE"))
    stored = read_env_file(path)
    stored[name] = value
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(json.dumps(stored))
    scratch.replace(path)
    return {"ok": True}


#: Every agent command, by the name it has on a run's ``PATH``.
COMMANDS: dict[str, Callable[[list[str]], Answer]] = {
    "al-status": _status,
    "al-rerun": _rerun,
    "al-return": _return,
    "al-exit": _exit,
    "rlock": _lock_command("/locks/acquire", "rlock <uri>"),
    "runlock": _lock_command("/locks/release", "runlock <uri>"),
    "rlock-heartbeat": _lock_command("/locks/heartbeat", "rlock-heartbeat <uri>"),
    "al-subagent": _subagent,
    "al-subagent-check": _subagent_check,
    "al-subagent-wait": _subagent_wait,
    "setenv": _setenv,
}

COMMAND_NAMES: tuple[str, ...] = tuple(COMMANDS)

if __name__ == "__main__":
    sys.exit(main())
