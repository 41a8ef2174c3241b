"""ChatCompletionRequest: OpenAI's request mapped onto the internal turn (what phase B of
issue 25 passes to the chat path whole)."""

from typing import Any

import pytest
from pydantic import ValidationError

from simplechat.chat.openai_schemas import ChatCompletionRequest
from simplechat.llm.types import (
    ChatMessage,
    GenerationOptions,
    Reasoning,
    ResponseFormat,
    ResponseFormatType,
    Role,
    ToolCall,
    ToolChoice,
    ToolChoiceMode,
    ToolSpec,
)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": True,
    },
}
LOOP = [
    {"role": "developer", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Tokyo?"}]},
    {
        "role": "assistant",
        "content": None,
        "reasoning_content": "Two cities.",
        "tool_calls": [
            {"id": "call_a", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "call_b", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}},
        ],
    },
    {"role": "tool", "tool_call_id": "call_b", "content": "25°C"},
    {"role": "tool", "tool_call_id": "call_a", "content": [{"type": "text", "text": "18°C"}]},
]  # fmt: skip


def request(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    )


def test_a_tool_loop_maps_to_the_turn() -> None:
    messages = request(messages=LOOP).to_domain()

    assert messages == [
        ChatMessage(Role.SYSTEM, "Be brief."),
        ChatMessage(Role.USER, "Weather in Paris and Tokyo?"),
        ChatMessage(
            Role.ASSISTANT,
            "",
            tool_calls=(
                ToolCall("call_a", "get_weather", '{"city": "Paris"}'),
                ToolCall("call_b", "get_weather", '{"city": "Tokyo"}'),
            ),
            reasoning="Two cities.",
        ),
        ChatMessage(Role.TOOL, "25°C", tool_call_id="call_b"),
        ChatMessage(Role.TOOL, "18°C", tool_call_id="call_a"),
    ]


def test_openrouters_reasoning_field_is_read_too() -> None:
    body = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": "y", "reasoning": "r"},
    ]

    assert request(messages=body).to_domain()[1].reasoning == "r"


def test_every_option_maps() -> None:
    options = request(
        tools=[WEATHER, {"type": "function", "function": {"name": "now"}}],
        tool_choice={"type": "function", "function": {"name": "now"}},
        parallel_tool_calls=False,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": {"type": "object"}, "strict": True},
        },
        stop="END",
        seed=3,
        presence_penalty=0.1,
        frequency_penalty=0.2,
        logit_bias={"42": -50},
        logprobs=True,
        top_logprobs=5,
        user="u",
        n=2,
        reasoning_effort="medium",
    ).to_options()

    assert options == GenerationOptions(
        tools=(
            ToolSpec(
                "get_weather",
                "The weather",
                {"type": "object", "properties": {"city": {"type": "string"}}},
                True,
            ),
            ToolSpec("now"),
        ),
        tool_choice=ToolChoice(ToolChoiceMode.FUNCTION, "now"),
        parallel_tool_calls=False,
        response_format=ResponseFormat(
            ResponseFormatType.JSON_SCHEMA, "person", {"type": "object"}, True
        ),
        stop=("END",),
        seed=3,
        presence_penalty=0.1,
        frequency_penalty=0.2,
        logit_bias={"42": -50.0},
        logprobs=True,
        top_logprobs=5,
        user="u",
        n=2,
        reasoning=Reasoning(effort="medium"),
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, None),
        ({"reasoning_effort": "none"}, Reasoning(effort="none")),
        ({"reasoning": {"max_tokens": 10}}, Reasoning(max_tokens=10)),
        ({"reasoning": {"exclude": True}, "reasoning_effort": "high"},
         Reasoning(effort="high", exclude=True)),
        ({"reasoning": {"enabled": False}}, Reasoning(enabled=False)),
    ],
)  # fmt: skip
def test_reasoning(fields: dict[str, Any], expected: Reasoning | None) -> None:
    assert request(**fields).to_options().reasoning == expected


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", ToolChoice(ToolChoiceMode.AUTO)),
        ("none", ToolChoice(ToolChoiceMode.NONE)),
        ("required", ToolChoice(ToolChoiceMode.REQUIRED)),
    ],
)
def test_tool_choice_modes(choice: str, expected: ToolChoice) -> None:
    assert request(tools=[WEATHER], tool_choice=choice).to_options().tool_choice == expected


def test_nothing_asked_is_no_options() -> None:
    req = request(stream=True, stream_options={"include_usage": True})

    assert req.to_options() == GenerationOptions()
    assert req.include_usage
    assert not request().include_usage


def test_plain_formats() -> None:
    assert request(response_format={"type": "text"}).to_options().response_format == (
        ResponseFormat(ResponseFormatType.TEXT)
    )


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "tool", "content": "x"}],
        [{"role": "user", "content": "x", "tool_calls": []}, {"role": "tool", "content": "y"}],
        [{"role": "user", "content": "x", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f"}}]}],
        [{"role": "assistant", "tool_calls": [{"id": "", "function": {"name": "f"}}]}],
    ],
)  # fmt: skip
def test_malformed_tool_messages(messages: list[dict[str, Any]]) -> None:
    with pytest.raises(ValidationError):
        request(messages=messages)
