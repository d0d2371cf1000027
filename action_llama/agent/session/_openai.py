"""
The OpenAI Chat Completions API: ``POST <baseUrl>/chat/completions``.

Every provider but Anthropic speaks it: OpenAI, Groq, OpenRouter, xAI,
Mistral, Google's compatible endpoint, and local servers (``custom``).
``thinkingLevel`` becomes ``reasoning_effort`` for OpenAI itself; other
servers do not all know that field, so it is not sent to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._conversation import (
    AssistantMessage,
    Message,
    Reply,
    ToolCall,
    ToolResults,
    ToolSpec,
    UserMessage,
)
from ._providers import ModelSettings

#: The ``reasoning_effort`` of each ``thinkingLevel``.
REASONING_EFFORTS: Mapping[str, str] = {
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
}


def build_request(
    settings: ModelSettings,
    system: str,
    messages: Sequence[Message],
    tools: Sequence[ToolSpec],
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """
    The request that asks ``settings``'s model to answer the conversation.

    :returns: the URL, the headers and the JSON-able body.
    """
    headers = {"content-type": "application/json"}
    if settings.api_key is not None:
        headers["authorization"] = f"Bearer {settings.api_key}"
    rendered: list[dict[str, Any]] = [{"role": "system", "content": system}]
    for message in messages:
        rendered.extend(_render(message))
    body: dict[str, Any] = {
        "model": settings.model,
        "messages": rendered,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
            for tool in tools
        ],
    }
    effort = REASONING_EFFORTS.get(settings.thinking_level or "")
    if effort is not None and settings.provider == "openai":
        body["reasoning_effort"] = effort
    return f"{settings.base_url}/chat/completions", headers, body


def parse_reply(settings: ModelSettings, answer: Any) -> Reply:
    """
    The reply in a Chat Completions answer.

    :raises KeyError, IndexError, TypeError, AttributeError: if the answer
        does not have the documented shape.
    """
    choice = answer["choices"][0]
    message = choice["message"]
    calls = tuple(
        ToolCall(
            call.get("id") or f"call_{index}",
            call["function"]["name"],
            call["function"].get("arguments") or "{}",
        )
        for index, call in enumerate(message.get("tool_calls") or ())
    )
    usage = answer.get("usage") or {}
    return Reply(
        message=AssistantMessage(settings.name, message.get("content") or "", calls),
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        cut_off=choice.get("finish_reason") == "length",
        thinking=message.get("reasoning_content") or "",
    )


def _render(message: Message) -> list[dict[str, Any]]:
    """
    One message of the history as Chat Completions messages.
    """
    if isinstance(message, UserMessage):
        return [{"role": "user", "content": message.text}]
    if isinstance(message, ToolResults):
        return [
            {"role": "tool", "tool_call_id": result.call_id, "content": result.output}
            for result in message.results
        ]
    rendered: dict[str, Any] = {"role": "assistant", "content": message.text or None}
    if message.tool_calls:
        rendered["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    return [rendered]
