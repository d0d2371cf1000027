"""
The LLM session of a run (SPEC 5.4): what the child does between its
pre-hooks and post-hooks when the agent has models.

`run_session` builds the session from the run file and the run's
environment, and holds it in a reactor of its own (``task.react``), which
treq needs. The parts:

- `._prompt`: the system and user prompts;
- `._providers`, `._anthropic`, `._openai`: the models and their APIs;
- `._models`: fallback along the agent's models, retries, the auth limit;
- `._breaker`: the breaker, shared by the service's runs, that skips a
  rate-limited model for a while;
- `._bash`: the ``bash`` tool;
- `._loop`: the turns, and what each one logs;
- `._usage`: token counts for the run's record;
- `._log`: the masked log lines (masking itself is the runtime's `Masker`).

Importing this package imports Twisted and treq, which script agents never
need: `action_llama.agent._run` imports it only when the agent has models.
"""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from treq.client import HTTPClient
from twisted.internet.interfaces import IReactorFromThreads, IReactorThreads
from twisted.internet.task import react
from twisted.web.client import Agent, HTTPConnectionPool

from action_llama.agent._run import command_env, emit, requested_exit

from ...runtime import Masker
from ._bash import Bash
from ._breaker import FILE_NAME, Breaker
from ._log import SessionLog
from ._loop import Session
from ._models import ModelChain
from ._prompt import system_prompt, user_prompt
from ._providers import ModelSettings, SessionError, model_settings
from ._usage import UsageReporter

__all__ = ["run_session"]


def run_session(run: Mapping[str, Any]) -> int | None:
    """
    Run the LLM session of a run, in the child process.

    ``SIGTERM`` during the session kills the commands it started and ends
    the process with 143, as it does during hooks.

    :param run: the run file.
    :returns: ``None`` when the model finished, so the run goes on with its
        post-hooks; otherwise the run's exit code: 1 when the session failed
        (the reason is logged), or the code given to ``al-exit``.
    """
    from twisted.internet import reactor

    bash = Bash(IReactorThreads(reactor), Path.cwd(), command_env)
    outcome: list[int | None] = []
    terminated: list[int] = []
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        terminated.append(signum)
        bash.kill_all()
        IReactorFromThreads(reactor).callFromThread(reactor.stop)

    async def main(_: object) -> None:
        # After the reactor has put in its own handler, which would stop the
        # session as if it had ended well.
        reactor.callWhenRunning(signal.signal, signal.SIGTERM, on_sigterm)
        outcome.append(await _session(run, reactor, bash))

    try:
        react(main)
    except SystemExit:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    if terminated or not outcome:
        raise SystemExit(128 + signal.SIGTERM)
    return outcome[0]


async def _session(run: Mapping[str, Any], reactor: Any, bash: Bash) -> int | None:
    """
    Build the session and hold it; never raises.

    :param run: the run file.
    :param reactor: the running reactor.
    :param bash: runs the ``bash`` calls.
    :returns: as `run_session`.
    """
    log = SessionLog(emit, Masker.from_environ(os.environ))
    pool = HTTPConnectionPool(reactor)
    client = HTTPClient(Agent(reactor, pool=pool))
    usage = UsageReporter(
        client,
        os.environ.get("GATEWAY_URL", ""),
        os.environ.get("AL_RUN_SECRET", ""),
        log,
        reactor,
    )
    try:
        models = _usable_models(run.get("models") or [], log)
        run_dir = os.environ.get("AL_RUN_DIR")
        breaker = Breaker(
            Path(run_dir).parent.parent / FILE_NAME if run_dir else None,
            reactor,
            lambda text: log("warn", text),
        )
        chain = ModelChain(models, client, reactor, breaker, log)
        names = ", ".join(f"{m.name} ({m.provider} {m.model})" for m in models)
        log("info", f"LLM session started; models: {names}")
        session = Session(chain, bash, log, usage, requested_exit)
        return await session.run(
            system_prompt(run.get("instructions") or ""),
            user_prompt(run, os.environ, str(Path.cwd())),
        )
    except SessionError as e:
        log("error", f"the session cannot start: {e}")
        return 1
    except Exception as e:
        log("error", f"the session failed unexpectedly: {e!r}")
        log.text("debug", traceback.format_exc())
        return 1
    finally:
        bash.kill_all()
        await usage.flush()
        await pool.closeCachedConnections()


def _usable_models(
    entries: Sequence[Mapping[str, Any]], log: SessionLog
) -> list[ModelSettings]:
    """
    The models of the run file that can be used, in order; the others are
    reported.

    :raises SessionError: if none can.
    """
    models, reasons = [], []
    for entry in entries:
        try:
            models.append(model_settings(entry, os.environ))
        except SessionError as e:
            reasons.append(str(e))
    if not models:
        raise SessionError("; ".join(reasons))
    for reason in reasons:
        log("warn", f"skipping a model: {reason}")
    return models
