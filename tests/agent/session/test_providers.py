"""
Tests for the model settings and the two wire formats: what each request
holds, and how each answer is read.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from action_llama.agent.session import _anthropic, _openai
from action_llama.agent.session._bash import BASH_TOOL
from action_llama.agent.session._conversation import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolResult,
    ToolResults,
    UserMessage,
)
from action_llama.agent.session._providers import (
    DEFAULT_BASE_URLS,
    ModelSettings,
    SessionError,
    error_kind,
    model_settings,
)


def settings(
    provider: str = "anthropic", thinking: str | None = None, key: str | None = "k"
) -> ModelSettings:
    """
    A model ``m`` of ``provider``.
    """
    return ModelSettings(
        name="m",
        provider=provider,
        model="model-m",
        base_url="http://api.test",
        api_key=key,
        thinking_level=thinking,
    )


#: Model ``m``'s own content blocks of its first answer.
NATIVE = (
    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
    {"type": "text", "text": "Looking."},
    {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {}},
)

#: A conversation where model ``m`` ran a command, then model ``other`` did.
HISTORY: list[Message] = [
    UserMessage("hello"),
    AssistantMessage(
        "m",
        "Looking.",
        (ToolCall("toolu_1", "bash", '{"command": "ls"}'),),
        NATIVE,
    ),
    ToolResults((ToolResult("toolu_1", "a.txt"),)),
    AssistantMessage("other", "", (ToolCall("call:2", "bash", '{"command": "pwd"}'),)),
    ToolResults((ToolResult("call:2", "/work", is_error=True),)),
]


@pytest.mark.parametrize("provider", sorted(DEFAULT_BASE_URLS))
def test_known_providers_have_a_default_base_url(provider: str) -> None:
    """
    A model of a known provider without ``baseUrl`` uses its public API.
    """
    variable = {"anthropic": "ANTHROPIC_API_KEY"}.get(
        provider, f"{provider.upper()}_API_KEY"
    )

    model = model_settings(
        {"name": "m", "provider": provider, "model": "x"}, {variable: "key"}
    )

    assert model.base_url == DEFAULT_BASE_URLS[provider]
    assert model.api_key == "key"


def test_base_url_is_allowed_for_every_provider() -> None:
    """
    ``baseUrl`` overrides the default of any provider, without its trailing
    slash.
    """
    entry = {"provider": "anthropic", "model": "x", "baseUrl": "http://h:1/api/"}

    model = model_settings(entry, {"ANTHROPIC_API_KEY": "key"})

    assert model.base_url == "http://h:1/api"


def test_custom_needs_a_base_url_but_no_key() -> None:
    """
    A custom server needs ``baseUrl``; it may need no key.
    """
    with pytest.raises(SessionError, match=r"needs a baseUrl in \[models.local\]"):
        model_settings({"name": "local", "provider": "custom", "model": "x"}, {})

    model = model_settings(
        {"provider": "custom", "model": "x", "baseUrl": "http://h/v1"}, {}
    )
    assert model.api_key is None


def test_missing_key_says_how_to_add_it() -> None:
    """
    A model whose key the run lacks names the variable and the credential.
    """
    with pytest.raises(SessionError) as raised:
        model_settings({"name": "gpt", "provider": "openai", "model": "x"}, {})

    assert str(raised.value) == (
        "model gpt needs OPENAI_API_KEY, which this run does not have: add"
        " 'openai_key' to the agent's credentials and store it with"
        " `al creds add openai_key`"
    )


def test_unusable_auth_type_is_refused() -> None:
    """
    ``authType = "pi_auth"`` cannot be used by a run, and says so.
    """
    entry = {"name": "m", "provider": "anthropic", "model": "x", "authType": "pi_auth"}

    with pytest.raises(SessionError, match="authType 'pi_auth'"):
        model_settings(entry, {"ANTHROPIC_API_KEY": "key"})


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, "auth"),
        (403, "auth"),
        (429, "rate_limited"),
        (503, "rate_limited"),
        (529, "rate_limited"),
        (500, "transient"),
        (502, "transient"),
        (408, "transient"),
        (400, "refused"),
        (404, "refused"),
    ],
)
def test_error_kinds(status: int, kind: str) -> None:
    """
    Each HTTP status maps to the way it is handled.
    """
    assert error_kind(status) == kind


def test_anthropic_request() -> None:
    """
    An Anthropic request carries the key, the version, the system prompt,
    the bash tool and the history: the same model's own blocks as they were,
    another model's answer rebuilt with an id the API accepts.
    """
    url, headers, body = _anthropic.build_request(
        settings(), "sys", HISTORY, [BASH_TOOL]
    )

    assert url == "http://api.test/v1/messages"
    assert headers["x-api-key"] == "k"
    assert headers["anthropic-version"] == "2023-06-01"
    assert body["system"] == "sys" and body["max_tokens"] == 8192
    assert body["tools"][0]["name"] == "bash"
    assert body["tools"][0]["input_schema"]["required"] == ["command"]
    messages = body["messages"]
    assert messages[0] == {"role": "user", "content": "hello"}
    assert messages[1]["content"] == list(NATIVE)
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"}
    ]
    assert messages[3] == {
        "role": "assistant",
        "content": [
            {
                "type": "tool_use",
                "id": "call_2",
                "name": "bash",
                "input": {"command": "pwd"},
            }
        ],
    }
    assert messages[4]["content"][0]["tool_use_id"] == "call_2"
    assert messages[4]["content"][0]["is_error"] is True


def test_anthropic_oauth_token_is_a_bearer_token() -> None:
    """
    ``authType = "oauth_token"`` sends the key as a Bearer token.
    """
    model = ModelSettings("m", "anthropic", "x", "http://a", "tok", "oauth_token")

    _, headers, _ = _anthropic.build_request(model, "s", [UserMessage("hi")], [])

    assert headers["authorization"] == "Bearer tok"
    assert "x-api-key" not in headers


def test_anthropic_thinking_budget() -> None:
    """
    ``thinkingLevel`` turns thinking on with its budget, on top of the
    answer's own limit.
    """
    _, _, body = _anthropic.build_request(
        settings(thinking="medium"), "s", HISTORY[:3], []
    )

    assert body["thinking"] == {"type": "enabled", "budget_tokens": 10_000}
    assert body["max_tokens"] == 18_192


@pytest.mark.parametrize("level", ["off", None])
def test_anthropic_thinking_off(level: str | None) -> None:
    """
    Without a thinking level, or with ``off``, nothing asks for thinking.
    """
    _, _, body = _anthropic.build_request(
        settings(thinking=level), "s", HISTORY[:1], []
    )

    assert "thinking" not in body


def test_anthropic_thinking_is_left_off_after_another_models_answer() -> None:
    """
    Thinking is not asked for when the last answer came from another model,
    since the API wants that answer to start with a thinking block.
    """
    _, _, body = _anthropic.build_request(settings(thinking="high"), "s", HISTORY, [])

    assert "thinking" not in body


def test_anthropic_reply() -> None:
    """
    An Anthropic answer gives its text, its tool calls, its thinking, and
    its usage with cached tokens counted as read.
    """
    answer: dict[str, Any] = {
        "content": [
            {"type": "thinking", "thinking": "Let me see.", "signature": "s"},
            {"type": "text", "text": "Listing."},
            {
                "type": "tool_use",
                "id": "toolu_9",
                "name": "bash",
                "input": {"command": "ls"},
            },
        ],
        "stop_reason": "tool_use",
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 5,
            "cache_creation_input_tokens": 1,
            "output_tokens": 7,
        },
    }

    reply = _anthropic.parse_reply(settings(), answer)

    assert reply.message.text == "Listing."
    assert reply.message.tool_calls == (
        ToolCall("toolu_9", "bash", '{"command": "ls"}'),
    )
    assert reply.message.native == tuple(answer["content"])
    assert (reply.input_tokens, reply.output_tokens) == (16, 7)
    assert reply.thinking == "Let me see." and not reply.cut_off


def test_anthropic_reply_cut_off() -> None:
    """
    ``stop_reason: max_tokens`` marks the answer as cut off.
    """
    answer = {
        "content": [{"type": "text", "text": "Half"}],
        "stop_reason": "max_tokens",
    }

    assert _anthropic.parse_reply(settings(), answer).cut_off


def test_openai_request() -> None:
    """
    A Chat Completions request has the system prompt first, the Bearer key,
    the tool as a function, and each tool result as a ``tool`` message.
    """
    url, headers, body = _openai.build_request(
        settings("openai"), "sys", HISTORY, [BASH_TOOL]
    )

    assert url == "http://api.test/chat/completions"
    assert headers["authorization"] == "Bearer k"
    assert body["tools"][0]["function"]["name"] == "bash"
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert body["messages"][0]["content"] == "sys"
    assert body["messages"][2]["tool_calls"] == [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "bash", "arguments": '{"command": "ls"}'},
        }
    ]
    assert body["messages"][4]["content"] is None
    assert body["messages"][5] == {
        "role": "tool",
        "tool_call_id": "call:2",
        "content": "/work",
    }


def test_openai_request_without_key_has_no_authorization() -> None:
    """
    A custom server without a key gets no Authorization header.
    """
    _, headers, _ = _openai.build_request(
        settings("custom", key=None), "s", HISTORY[:1], []
    )

    assert "authorization" not in headers


@pytest.mark.parametrize(
    ("provider", "effort"), [("openai", "high"), ("groq", None), ("custom", None)]
)
def test_openai_reasoning_effort(provider: str, effort: str | None) -> None:
    """
    ``thinkingLevel`` becomes ``reasoning_effort`` for OpenAI only.
    """
    _, _, body = _openai.build_request(
        settings(provider, thinking="xhigh"), "s", HISTORY[:1], []
    )

    assert body.get("reasoning_effort") == effort


def test_openai_reply() -> None:
    """
    A Chat Completions answer gives its text, tool calls (an id made up if
    the server left it out) and usage.
    """
    arguments = json.dumps({"command": "ls"})
    answer = {
        "choices": [
            {
                "message": {
                    "content": "Listing.",
                    "tool_calls": [
                        {"function": {"name": "bash", "arguments": arguments}}
                    ],
                },
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3},
    }

    reply = _openai.parse_reply(settings("openai"), answer)

    assert reply.message.text == "Listing."
    assert reply.message.tool_calls == (ToolCall("call_0", "bash", arguments),)
    assert (reply.input_tokens, reply.output_tokens) == (12, 3)
    assert reply.cut_off and reply.message.native is None
