"""
A session's conversation, in a form that no provider owns.

Fallback may move a session from one model to another between two turns, so
the history is kept neutral and each provider renders all of it into its own
wire format for every request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen


@frozen
class ToolSpec:
    """
    A tool offered to the model.

    :ivar name: the name the model calls it by.
    :ivar description: what it does, for the model.
    :ivar parameters: the JSON schema of its arguments.
    """

    name: str
    description: str
    parameters: Mapping[str, Any]


@frozen
class ToolCall:
    """
    A model's request to run a tool.

    :ivar id: the provider's id of the call; the result must carry it.
    :ivar name: the tool's name.
    :ivar arguments: the arguments as JSON text, as the model wrote them.
    """

    id: str
    name: str
    arguments: str


@frozen
class UserMessage:
    """
    Text from our side: the prompt.
    """

    text: str


@frozen
class AssistantMessage:
    """
    One answer of a model.

    :ivar model: the name (``[models.<name>]``) of the model that wrote it.
    :ivar text: its text, empty if it only called tools.
    :ivar tool_calls: the tools it asked to run, in order.
    :ivar native: the provider's own content blocks, sent back unchanged when
        the same model is asked again (Anthropic needs its thinking blocks
        back during tool use); ``None`` if there is nothing to keep.
    """

    model: str
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    native: tuple[Any, ...] | None = None


@frozen
class ToolResult:
    """
    What one tool call gave.

    :ivar call_id: the id of the call.
    :ivar output: the text the model gets.
    :ivar is_error: whether the call itself was invalid.
    """

    call_id: str
    output: str
    is_error: bool = False


@frozen
class ToolResults:
    """
    The results of every call of the previous answer, in its order.
    """

    results: tuple[ToolResult, ...]


#: One entry of the history.
Message = UserMessage | AssistantMessage | ToolResults


@frozen
class Reply:
    """
    A model's answer and what it cost.

    :ivar message: the answer, as it joins the history.
    :ivar input_tokens: tokens read, cached ones included.
    :ivar output_tokens: tokens written, thinking included.
    :ivar cut_off: whether the answer stopped at the output limit.
    :ivar thinking: the model's visible reasoning, if it showed any.
    """

    message: AssistantMessage
    input_tokens: int
    output_tokens: int
    cut_off: bool = False
    thinking: str = ""
