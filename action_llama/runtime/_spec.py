"""
What a runtime is given, what it reports, and the interfaces it provides.

A runtime starts one agent run from a `RunSpec`, reports the run's output as
`LogLine` values while it runs, and reports how it ended as a `RunExit`.

The interfaces are zope.interface ones, not typing Protocols: runtimes are
swappable providers in the way Twisted's reactors are (a local process now,
containers later), ``verifyObject`` checks an implementation in its tests, and
with the mypy-zope plugin (STYLE.md) the interfaces are types as well.

The run file
------------

`RunSpec.run_file` is written as JSON to ``<run_dir>/run.json``; the child
(``python -m action_llama.agent``) reads these keys, all optional:

- ``agent``: the agent name;
- ``hooks``: ``{"pre": [command, ...], "post": [command, ...]}``;
- ``timeout``: the run timeout in seconds (the runtime enforces it);
- ``models``: the model settings, in fallback order; empty for a script agent;
- ``instructions``: the SKILL.md body;
- ``params``: the agent's ``[params]`` table;
- ``trigger``: the trigger context; the runtime also writes it to
  ``<run_dir>/trigger.json`` and exports that path as ``AL_TRIGGER_FILE``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from attrs import field, frozen
from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface

LogLevel = Literal["info", "warn", "error", "debug"]
Stream = Literal["stdout", "stderr"]
Outcome = Literal["completed", "error", "timeout", "killed"]


@frozen
class RunSpec:
    """
    Everything a runtime needs to start one run.

    :ivar instance_id: the run's instance id, ``<agent>-<short random>``.
    :ivar agent_name: the agent this is a run of.
    :ivar run_dir: the run's private directory; the runtime creates it, and
        refuses to start if it already exists.
    :ivar env: extra environment for the child: ``GATEWAY_URL``,
        ``AL_RUN_SECRET``, ``AL_TRIGGER_TYPE`` and the like. The runtime sets
        ``AL_INSTANCE_ID``, ``AL_AGENT``, ``AL_RUN_DIR``, ``AL_ENV_FILE``,
        ``AL_TRIGGER_FILE`` and ``AL_BIN_DIR`` itself.
    :ivar run_file: the JSON-able content of the run file (see the module
        docstring).
    :ivar timeout: seconds after which the run is killed and ends as
        ``timeout``.
    :ivar run_as: run the child as this OS user (``sudo -u``), or ``None``
        for the service's own user.
    :ivar credential_refs: credential refs (``type`` or ``type:instance``) to
        stage into the run and export.
    """

    instance_id: str
    agent_name: str
    run_dir: Path
    env: Mapping[str, str]
    run_file: Mapping[str, Any]
    timeout: float
    run_as: str | None = None
    credential_refs: tuple[str, ...] = ()


@frozen
class RunExit:
    """
    How a run ended.

    :ivar exit_code: 0 success, 1 error, 124 timeout; a run killed by a
        signal reports ``128 + signal``.
    :ivar outcome: ``completed`` (exit 0), ``error`` (any other exit, or a
        run that could not start), ``timeout`` or ``killed``.
    :ivar reason: a sentence saying why, when the outcome is not
        ``completed``.
    """

    exit_code: int
    outcome: Outcome
    reason: str | None = None


@frozen
class LogLine:
    """
    One line of a run's output.

    :ivar level: the line's level.
    :ivar message: the text of the line.
    :ivar stream: the child stream it came from.
    :ivar fields: any further fields the child attached to the line.
    """

    level: LogLevel
    message: str
    stream: Stream
    fields: Mapping[str, Any] = field(factory=dict)


class IRunHandle(Interface):
    """
    A run that has been started.
    """

    pid = Attribute(
        "The child's process id (``int``), or ``None`` if the run never "
        "started. For a local process it is also the process group id."
    )
    finished = Attribute(
        "A ``Deferred[RunExit]`` that fires once the run has ended and all of "
        "its output has been delivered. It never fails: a run that could not "
        "start ends with outcome ``error`` and a reason."
    )

    def kill() -> Deferred[RunExit]:
        """
        End the run: ask it to stop, then force it after a grace period.

        :returns: a Deferred that fires with the `RunExit` (outcome
            ``killed``, unless the run had already ended otherwise); it
            never fails.
        """


class IRuntime(Interface):
    """
    Something that can start agent runs.
    """

    def start(spec: RunSpec, on_line: Callable[[LogLine], None]) -> IRunHandle:
        """
        Start the run described by ``spec``.

        :param spec: the run to start.
        :param on_line: called with each line of output as soon as it arrives.
        :returns: the handle of the run. Failing to start is not an exception:
            the handle's ``finished`` has then already fired with outcome
            ``error``.
        """
