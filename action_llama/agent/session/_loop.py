"""
The turns of a session: ask a model, run the tools it calls, hand it the
results, until it answers without calling a tool.

Each turn reaches the agent's log as lines tagged ``phase: session`` and its
``turn``: the model's text (``info``; its thinking at ``debug``), each
command as ``$ <command>``, the command's output, and how it ended, with the
fields ``exitCode`` and ``seconds``.

Secret values are masked in the tool output the model gets too, not only in
the log: a command that prints a token (``gh auth status -t``, a ``cat`` of a
config file) would otherwise send it to the model provider, to stay in its
logs and in the context of every later request. The model never needs a
value to use a credential, since it names the variable instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from twisted.internet.defer import Deferred

from ._bash import (
    BASH_TOOL,
    OUTPUT_LIMIT,
    BadArguments,
    BashOutcome,
    cut,
    parse_arguments,
)
from ._conversation import (
    Message,
    Reply,
    ToolCall,
    ToolResult,
    ToolResults,
    ToolSpec,
    UserMessage,
)
from ._log import SessionLog
from ._providers import SessionError
from ._usage import UsageReporter

#: Answers a session may get before it is stopped as stuck.
MAX_TURNS = 100


class Models(Protocol):
    """
    Whatever answers the conversation (a `ModelChain`).
    """

    async def ask(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> Reply:
        """
        Have a model answer; see `ModelChain.ask`.
        """


class Shell(Protocol):
    """
    Whatever runs the ``bash`` calls (a `Bash`).
    """

    def run(self, command: str, timeout: float) -> Deferred[BashOutcome]:
        """
        Run one command line; see `Bash.run`.
        """


class Session:
    """
    One LLM session.

    :param models: answers the conversation.
    :param shell: runs the ``bash`` calls.
    :param log: the session's log.
    :param usage: where token counts go after each answer.
    :param requested_exit: gives the code ``al-exit`` stored, if it was
        called.
    :param max_turns: answers after which the session is stopped.
    """

    def __init__(
        self,
        models: Models,
        shell: Shell,
        log: SessionLog,
        usage: UsageReporter,
        requested_exit: Callable[[], int | None],
        max_turns: int = MAX_TURNS,
    ) -> None:
        self._models = models
        self._shell = shell
        self._log = log
        self._usage = usage
        self._requested_exit = requested_exit
        self._max_turns = max_turns

    async def run(self, system: str, prompt: str) -> int | None:
        """
        Hold the conversation to its end.

        :param system: the system prompt.
        :param prompt: the first user message.
        :returns: ``None`` when the model finished; the code given to
            ``al-exit`` during a command; 1 when the session failed (the
            reason is logged) or used up its turns.
        """
        messages: list[Message] = [UserMessage(prompt)]
        tools = [BASH_TOOL]
        for turn in range(1, self._max_turns + 1):
            try:
                reply = await self._models.ask(system, messages, tools)
            except SessionError as e:
                self._log("error", f"the session failed: {e}", turn=turn)
                return 1
            self._usage.report(reply.input_tokens, reply.output_tokens)
            self._show(reply, turn)
            messages.append(reply.message)
            if not reply.message.tool_calls:
                return None
            results = []
            for call in reply.message.tool_calls:
                results.append(await self._call(call, turn))
                code = self._requested_exit()
                if code is not None:
                    self._log(
                        "info", f"al-exit ended the run with code {code}", turn=turn
                    )
                    return code
            messages.append(ToolResults(tuple(results)))
        self._log(
            "error",
            f"the session was stopped after {self._max_turns} turns without an end",
        )
        return 1

    def _show(self, reply: Reply, turn: int) -> None:
        """
        Log what the model said.
        """
        model = reply.message.model
        self._log.text("debug", reply.thinking, turn=turn, model=model, thinking=True)
        self._log.text("info", reply.message.text, turn=turn, model=model)
        if reply.cut_off:
            self._log(
                "warn",
                f"the answer of model {model} was cut off at its output limit",
                turn=turn,
                model=model,
            )

    async def _call(self, call: ToolCall, turn: int) -> ToolResult:
        """
        Run one tool call, logging it, and give its result.
        """
        if call.name != BASH_TOOL.name:
            reason = f"there is no tool {call.name!r}; the only tool is bash"
            self._log("warn", f"the model called a missing tool: {reason}", turn=turn)
            return ToolResult(call.id, reason, is_error=True)
        try:
            command, timeout = parse_arguments(call.arguments)
        except BadArguments as e:
            self._log("warn", f"the model called bash wrongly: {e}", turn=turn)
            return ToolResult(call.id, str(e), is_error=True)
        self._log.text("info", f"$ {command}", turn=turn, tool="bash")
        try:
            outcome = await self._shell.run(command, timeout)
        except OSError as e:
            reason = f"the command could not start: {e}"
            self._log("error", reason, turn=turn, tool="bash")
            return ToolResult(call.id, reason, is_error=True)
        self._log.text(
            "info", cut(outcome.output, OUTPUT_LIMIT), turn=turn, tool="bash"
        )
        if outcome.timed_out:
            level, ending = "warn", f"timed out after {timeout:g} s and killed"
        else:
            level = "debug" if outcome.status == 0 else "warn"
            ending = f"exit code {outcome.status} after {outcome.seconds:.3f} s"
        self._log(
            level,
            ending,
            turn=turn,
            tool="bash",
            exitCode=outcome.status,
            seconds=round(outcome.seconds, 4),
        )
        return ToolResult(call.id, self._log.mask(outcome.for_model(timeout)))
