"""
Tests for the turns of a session: tool calls, results, logging, masking,
``al-exit``, the turn limit and token usage.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from treq.client import HTTPClient
from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.task import Clock

from action_llama.agent.session._bash import BashOutcome
from action_llama.agent.session._breaker import Breaker
from action_llama.agent.session._conversation import (
    AssistantMessage,
    Message,
    Reply,
    ToolCall,
    ToolResult,
    ToolResults,
    ToolSpec,
)
from action_llama.agent.session._loop import Session
from action_llama.agent.session._models import ModelChain
from action_llama.agent.session._providers import ModelSettings, SessionError
from action_llama.agent.session._usage import UsageReporter

from .plumbing import RefusingAgent, memory_client, pump, result_of
from .support import Lines, ScriptedAPI, fail


def answer(text: str = "", *commands: str, tool: str = "bash") -> Reply:
    """
    An answer of model ``m`` with ``text`` that runs ``commands``.
    """
    calls = tuple(
        ToolCall(f"call_{i}", tool, f'{{"command": "{c}"}}')
        for i, c in enumerate(commands, start=1)
    )
    return Reply(AssistantMessage("m", text, calls), 100, 10)


class FakeModels:
    """
    Gives scripted replies (or raises scripted errors), and records each
    history it was asked with.
    """

    def __init__(self, replies: Sequence[Reply | Exception]) -> None:
        self.replies = list(replies)
        self.asked: list[list[Message]] = []

    async def ask(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> Reply:
        """
        The next scripted reply.
        """
        self.asked.append(list(messages))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


class FakeShell:
    """
    Answers commands at once; ``al-exit <code>`` stores an exit code as the
    real command does.
    """

    def __init__(self, outputs: dict[str, BashOutcome] | None = None) -> None:
        self.outputs = outputs or {}
        self.commands: list[str] = []
        self.exit_code: int | None = None

    def run(self, command: str, timeout: float) -> Deferred[BashOutcome]:
        """
        The scripted outcome of ``command``; empty output by default.
        """
        self.commands.append(command)
        if command.startswith("al-exit "):
            self.exit_code = int(command.split()[1])
        return succeed(self.outputs.get(command, BashOutcome("", 0, 0.01)))


def run_session(
    models: FakeModels,
    shell: FakeShell,
    lines: Lines,
    secrets: Sequence[str] = (),
    max_turns: int = 10,
) -> int | None:
    """
    Run a session with no gateway to report usage to.

    :returns: what the session returned.
    """
    log = lines.log(secrets)
    client, _ = memory_client(ScriptedAPI("anthropic", []))
    usage = UsageReporter(client, "", "", log, Clock())
    session = Session(models, shell, log, usage, lambda: shell.exit_code, max_turns)
    return result_of(ensureDeferred(session.run("system", "prompt")))


def test_tool_calls_run_and_their_results_go_back() -> None:
    """
    Each call runs; its result goes back to the model; a text-only answer
    ends the session well, and every step is logged.
    """
    models = FakeModels([answer("Looking.", "ls"), answer("Done.")])
    shell = FakeShell({"ls": BashOutcome("a.txt\nb.txt\n", 0, 0.0123)})
    lines = Lines()

    assert run_session(models, shell, lines) is None

    assert models.asked[1][-1] == ToolResults((ToolResult("call_1", "a.txt\nb.txt\n"),))
    assert lines.messages() == [
        "Looking.",
        "$ ls",
        "a.txt",
        "b.txt",
        "exit code 0 after 0.012 s",
        "Done.",
    ]
    level, _, fields = lines.lines[4]
    assert level == "debug"
    assert fields == {
        "phase": "session",
        "turn": 1,
        "tool": "bash",
        "exitCode": 0,
        "seconds": 0.0123,
    }
    assert lines.lines[0][2] == {"phase": "session", "turn": 1, "model": "m"}


def test_al_exit_ends_the_session_with_its_code() -> None:
    """
    ``al-exit`` in a command ends the session with its code; the calls after
    it do not run.
    """
    models = FakeModels([answer("", "al-exit 7", "echo never")])
    shell = FakeShell()
    lines = Lines()

    assert run_session(models, shell, lines) == 7

    assert shell.commands == ["al-exit 7"]
    assert lines.messages()[-1] == "al-exit ended the run with code 7"


def test_session_is_stopped_after_its_turns() -> None:
    """
    A model that never stops calling tools is stopped after the turn limit,
    as a failure.
    """
    models = FakeModels([answer("", "true")] * 3)
    lines = Lines()

    assert run_session(models, FakeShell(), lines, max_turns=3) == 1

    assert lines.messages("error") == [
        "the session was stopped after 3 turns without an end"
    ]


def test_model_failure_ends_the_session_with_its_reason() -> None:
    """
    When the models give up, the session fails with their reason.
    """
    models = FakeModels([SessionError("the model API failed 5 times in a row")])
    lines = Lines()

    assert run_session(models, FakeShell(), lines) == 1

    assert lines.messages("error") == [
        "the session failed: the model API failed 5 times in a row"
    ]


def test_three_auth_failures_end_the_run_with_that_reason(tmp_path: Path) -> None:
    """
    Three 401s in a row from the model API end the session as a failure
    whose error line gives the reason.
    """
    api = ScriptedAPI("anthropic", [fail(401, "invalid x-api-key")] * 3)
    client, agent = memory_client(api)
    clock = Clock()
    lines = Lines()
    log = lines.log()
    model = ModelSettings("m", "anthropic", "x", "http://api.test", "sk-bad")
    breaker = Breaker(tmp_path / "b.json", clock, lambda text: log("warn", text))
    chain = ModelChain([model], client, clock, breaker, log, jitter=lambda: 1.0)
    usage = UsageReporter(client, "", "", log, clock)
    d = ensureDeferred(
        Session(chain, FakeShell(), log, usage, lambda: None).run("s", "p")
    )
    pump(d, agent)
    clock.advance(1)
    pump(d, agent)
    clock.advance(2)
    pump(d, agent)

    assert result_of(d) == 1
    assert lines.messages("error") == [
        "the session failed: authentication failed 3 times in a row (model m:"
        " HTTP 401: invalid x-api-key); check the key with"
        " `al creds add anthropic_key`"
    ]


def test_secrets_are_masked_in_the_log_and_for_the_model() -> None:
    """
    A secret the model writes or a command prints is masked in every log
    line and in the result the model gets.
    """
    models = FakeModels([answer("My key is sk-test-xyz.", "echo $KEY"), answer("ok")])
    shell = FakeShell({"echo $KEY": BashOutcome("sk-test-xyz\n", 0, 0.01)})
    lines = Lines()

    run_session(models, shell, lines, secrets=["sk-test-xyz"])

    assert lines.messages()[:3] == ["My key is ***.", "$ echo $KEY", "***"]
    assert all("sk-test-xyz" not in m for m in lines.messages())
    assert models.asked[1][-1] == ToolResults((ToolResult("call_1", "***\n"),))


def test_bad_calls_get_errors_and_the_session_goes_on() -> None:
    """
    A call of an unknown tool, or of bash without a command, gets an error
    result, and the session goes on.
    """
    bad_bash = Reply(
        AssistantMessage("m", "", (ToolCall("call_2", "bash", "{}"),)), 1, 1
    )
    models = FakeModels([answer("", "ls", tool="python"), bad_bash, answer("ok")])
    shell = FakeShell()
    lines = Lines()

    assert run_session(models, shell, lines) is None

    unknown, no_command = models.asked[1][-1], models.asked[2][-1]
    assert unknown == ToolResults(
        (
            ToolResult(
                "call_1", "there is no tool 'python'; the only tool is bash", True
            ),
        )
    )
    assert isinstance(no_command, ToolResults)
    assert no_command.results[0].is_error
    assert "no command given" in no_command.results[0].output
    assert shell.commands == []


def test_timed_out_and_failed_commands_are_warnings() -> None:
    """
    A command that fails or times out ends with a warning line.
    """
    models = FakeModels([answer("", "false", "sleep 500"), answer("ok")])
    shell = FakeShell(
        {
            "false": BashOutcome("", 1, 0.01),
            "sleep 500": BashOutcome("", -9, 120.0, timed_out=True),
        }
    )
    lines = Lines()

    run_session(models, shell, lines)

    assert lines.messages("warn") == [
        "exit code 1 after 0.010 s",
        "timed out after 120 s and killed",
    ]


def test_cut_off_answer_is_a_warning() -> None:
    """
    An answer cut off at the output limit is noted.
    """
    cut_off = Reply(AssistantMessage("m", "Half an"), 1, 1, cut_off=True)
    lines = Lines()

    run_session(FakeModels([cut_off]), FakeShell(), lines)

    assert lines.messages("warn") == [
        "the answer of model m was cut off at its output limit"
    ]


def test_usage_is_reported_after_each_answer() -> None:
    """
    The tokens of each answer go to the gateway with the run secret, and
    ``flush`` waits for the reports.
    """
    api = ScriptedAPI("anthropic", [])
    client, agent = memory_client(api)
    lines = Lines()
    log = lines.log()
    usage = UsageReporter(client, "http://gateway.test/", "run-secret", log, Clock())
    models = FakeModels([answer("", "ls"), answer("done")])
    session = Session(models, FakeShell(), log, usage, lambda: None)

    assert result_of(ensureDeferred(session.run("s", "p"))) is None
    flushed = usage.flush()
    pump(flushed, agent)

    assert flushed.called
    assert [(r.path, r.body) for r in api.signals] == [
        ("/signals/usage", {"inputTokens": 100, "outputTokens": 10}),
        ("/signals/usage", {"inputTokens": 100, "outputTokens": 10}),
    ]
    assert api.signals[0].headers["authorization"] == "Bearer run-secret"


def test_refused_usage_report_is_a_warning() -> None:
    """
    A usage report the gateway refuses is noted, and does not end the
    session.
    """
    client, agent = memory_client(ScriptedAPI("anthropic", []))
    lines = Lines()
    usage = UsageReporter(
        client, "http://gateway.test/nowhere", "s", lines.log(), Clock()
    )

    usage.report(5, 1)
    pump(usage.flush(), agent)

    assert lines.messages("warn") == [
        "the gateway refused the token usage report: HTTP 404"
        ' {"error": {"message": "no such route"}}'
    ]


def test_unreachable_gateway_is_a_warning() -> None:
    """
    A usage report that cannot reach the gateway is noted, and ``flush``
    still fires.
    """
    lines = Lines()
    usage = UsageReporter(
        HTTPClient(RefusingAgent()), "http://gateway.test", "s", lines.log(), Clock()
    )

    usage.report(5, 1)

    assert usage.flush().called
    assert lines.messages("warn") == [
        "could not report token usage to the gateway: Connection was refused by"
        " other side: connection refused."
    ]
