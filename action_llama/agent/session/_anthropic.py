"""
The Anthropic Messages API: ``POST <baseUrl>/v1/messages``.

``thinkingLevel`` turns on extended thinking with the budget
`THINKING_BUDGETS` gives it. During tool use the API wants the model's
thinking blocks back unchanged, so an answer's content blocks are kept and
resent to the model that wrote them; and it refuses thinking when the last
answer in the history has none (one written by another model after a
fallback), so thinking is left off for such a request.
"""

from __future__ import annotations

import json
import re
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

#: The API version the requests are written for.
API_VERSION = "2023-06-01"

#: Tokens a model may write in one answer, besides its thinking.
MAX_OUTPUT_TOKENS = 8192

#: The thinking budget, in tokens, of each ``thinkingLevel``.
THINKING_BUDGETS: Mapping[str, int] = {
    "minimal": 1024,
    "low": 4096,
    "medium": 10_000,
    "high": 20_000,
    "xhigh": 32_000,
}

#: The beta flag that lets OAuth tokens in.
_OAUTH_BETA = "oauth-2025-04-20"

_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")


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
    headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
    assert settings.api_key is not None, "Anthropic always needs a key"
    if settings.auth_type == "oauth_token":
        headers["authorization"] = f"Bearer {settings.api_key}"
        headers["anthropic-beta"] = _OAUTH_BETA
    else:
        headers["x-api-key"] = settings.api_key
    budget = THINKING_BUDGETS.get(settings.thinking_level or "", 0)
    if budget and not _may_think(settings.name, messages):
        budget = 0
    body: dict[str, Any] = {
        "model": settings.model,
        "max_tokens": MAX_OUTPUT_TOKENS + budget,
        "system": system,
        "messages": [_render(message, settings.name) for message in messages],
        "tools": [
            {
                "name": tool.name,
                "description": tool.description,
                "input_schema": tool.parameters,
            }
            for tool in tools
        ],
    }
    if budget:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    return f"{settings.base_url}/v1/messages", headers, body


def parse_reply(settings: ModelSettings, answer: Any) -> Reply:
    """
    The reply in a Messages API answer.

    :raises KeyError, TypeError, AttributeError: if the answer does not have
        the documented shape.
    """
    texts, thinking, calls = [], [], []
    content = answer["content"]
    for block in content:
        kind = block["type"]
        if kind == "text":
            texts.append(block["text"])
        elif kind == "thinking":
            thinking.append(block["thinking"])
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input") or {})
            calls.append(ToolCall(block["id"], block["name"], arguments))
    usage = answer.get("usage") or {}
    read = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return Reply(
        message=AssistantMessage(
            settings.name, "\n".join(texts), tuple(calls), tuple(content)
        ),
        input_tokens=sum(int(usage.get(field) or 0) for field in read),
        output_tokens=int(usage.get("output_tokens") or 0),
        cut_off=answer.get("stop_reason") == "max_tokens",
        thinking="\n".join(thinking),
    )


def _may_think(model: str, messages: Sequence[Message]) -> bool:
    """
    Whether thinking can be on: the last answer in ``messages``, if any, is
    ``model``'s own and starts with a thinking block.
    """
    answers = [m for m in messages if isinstance(m, AssistantMessage)]
    if not answers:
        return True
    last = answers[-1]
    first = last.native[0] if last.native else {}
    return last.model == model and first.get("type") in (
        "thinking",
        "redacted_thinking",
    )


def _render(message: Message, model: str) -> dict[str, Any]:
    """
    One message of the history in the Messages API's shape, for ``model``.
    """
    if isinstance(message, UserMessage):
        return {"role": "user", "content": message.text}
    if isinstance(message, ToolResults):
        return {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": _id(result.call_id),
                    "content": result.output,
                    **({"is_error": True} if result.is_error else {}),
                }
                for result in message.results
            ],
        }
    if message.model == model and message.native:
        return {"role": "assistant", "content": list(message.native)}
    blocks: list[dict[str, Any]] = []
    if message.text:
        blocks.append({"type": "text", "text": message.text})
    for call in message.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": _id(call.id),
                "name": call.name,
                "input": _input(call.arguments),
            }
        )
    return {"role": "assistant", "content": blocks}


def _id(call_id: str) -> str:
    """
    A tool call id as the Messages API accepts it (another provider's id may
    hold other characters).
    """
    return _NOT_ID.sub("_", call_id) or "call"


def _input(arguments: str) -> dict[str, Any]:
    """
    A call's JSON arguments as a ``tool_use`` input, which must be an object.
    """
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
