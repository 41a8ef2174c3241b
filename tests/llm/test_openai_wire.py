"""openai_wire and dashscope_wire: the internal turn to each vendor's JSON and back."""

from typing import Any

import pytest

from simplechat.llm.dashscope_wire import openai_body, sdk_messages, sdk_options
from simplechat.llm.openai_wire import (
    OPENAI_DIALECT,
    OPENROUTER_DIALECT,
    ChunkReader,
    options_payload,
    parse_completion,
    parse_usage,
    wire_message,
)
from simplechat.llm.types import (
    ChatMessage,
    GenerationOptions,
    ModelSpec,
    Reasoning,
    ResponseFormat,
    ResponseFormatType,
    Role,
    StreamChunk,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolChoiceMode,
    ToolSpec,
    Usage,
)

MODEL = ModelSpec("m", "openai", "up-m", 8192, 1024)
CALL = ToolCall("call_1", "get_weather", '{"city": "Paris"}')


def test_messages_in_openai_shape() -> None:
    assistant = ChatMessage(Role.ASSISTANT, "", tool_calls=(CALL,), reasoning="thought")
    result = ChatMessage(Role.TOOL, "18°C", tool_call_id="call_1")

    assert wire_message(assistant, MODEL) == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
        ],
    }  # fmt: skip
    assert wire_message(result, MODEL) == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "18°C",
    }
    with_text = ChatMessage(Role.ASSISTANT, "Let me look.", tool_calls=(CALL,))
    assert wire_message(with_text, MODEL)["content"] == "Let me look."


@pytest.mark.parametrize(
    ("dialect", "field"), [(OPENAI_DIALECT, "reasoning_content"), (OPENROUTER_DIALECT, "reasoning")]
)
def test_reasoning_goes_back_only_to_models_that_need_it(dialect: Any, field: str) -> None:
    message = ChatMessage(Role.ASSISTANT, "Sunny.", reasoning="I checked.")
    needs = ModelSpec("r", "openai", "r", 8192, 1024, replays_reasoning=True)

    assert field not in wire_message(message, MODEL, dialect)
    assert wire_message(message, needs, dialect)[field] == "I checked."


def test_options_payload() -> None:
    options = GenerationOptions(
        tools=(ToolSpec("f", "does f", {"type": "object"}, strict=True), ToolSpec("g")),
        tool_choice=ToolChoice(ToolChoiceMode.REQUIRED),
        parallel_tool_calls=False,
        response_format=ResponseFormat(ResponseFormatType.JSON_OBJECT),
        stop=("a", "b"),
        seed=1,
        presence_penalty=0.1,
        frequency_penalty=-0.2,
        logit_bias={"50256": -100.0},
        logprobs=True,
        top_logprobs=3,
        user="u",
        n=2,
        reasoning=Reasoning(effort="low", max_tokens=100, exclude=True),
    )

    assert options_payload(options, OPENAI_DIALECT) == {
        "tools": [
            {"type": "function",
             "function": {"name": "f", "description": "does f", "parameters": {"type": "object"},
                          "strict": True}},
            {"type": "function", "function": {"name": "g"}},
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
        "stop": ["a", "b"],
        "seed": 1,
        "presence_penalty": 0.1,
        "frequency_penalty": -0.2,
        "logit_bias": {"50256": -100.0},
        "logprobs": True,
        "top_logprobs": 3,
        "user": "u",
        "n": 2,
        "reasoning_effort": "low",
    }  # fmt: skip
    openrouter = options_payload(options, OPENROUTER_DIALECT)
    assert openrouter["reasoning"] == {"effort": "low", "max_tokens": 100, "exclude": True}
    assert "reasoning_effort" not in openrouter
    assert options_payload(GenerationOptions(), OPENAI_DIALECT) == {}


def test_a_completion_with_tool_calls_reasoning_and_choices() -> None:
    body = {
        "model": "served-as",
        "choices": [
            {"index": 1, "finish_reason": "stop", "message": {"content": "second"}},
            {"index": 0, "finish_reason": "stop",  # Ollama says "stop" beside tool calls
             "message": {"content": None, "reasoning": "thinking", "tool_calls": [
                 {"id": "c1", "type": "function",
                  "function": {"name": "f", "arguments": "{}"}}]}},
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 9,
                  "completion_tokens_details": {"reasoning_tokens": 4},
                  "prompt_tokens_details": {"cached_tokens": 2}},
    }  # fmt: skip

    completion = parse_completion(body, MODEL)

    assert completion is not None
    assert completion.model == "served-as"
    assert completion.finish_reason == "tool_calls"
    assert completion.tool_calls == (ToolCall("c1", "f", "{}"),)
    assert completion.reasoning == "thinking"
    assert completion.text == ""
    assert [c.text for c in completion.more] == ["second"]
    assert completion.usage == Usage(5, 9, reasoning_tokens=4, cached_tokens=2)
    assert parse_completion({"choices": [{"index": 0}]}, MODEL) is None
    assert parse_completion({}, MODEL) is None


def test_text_parts_in_an_answer_are_joined() -> None:
    body = {"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"text": "b"}]}}]}

    completion = parse_completion(body, MODEL)

    assert completion is not None
    assert completion.text == "ab"


def test_chunk_reader_with_two_choices_and_usage() -> None:
    reader = ChunkReader()
    pieces: list[StreamChunk] = []
    for chunk in [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "hm"}}]},
        {"choices": [{"index": 0, "delta": {"content": "A"}},
                     {"index": 1, "delta": {"content": "B"}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "c1", "type": "function",
             "function": {"name": "f", "arguments": "{}"}}
        ]}}]},
        {"choices": [{"index": 1, "delta": {}, "finish_reason": "length"}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
    ]:  # fmt: skip
        pieces.extend(reader.read(chunk))
    assert reader.finished
    pieces.extend(reader.end())

    assert pieces == [
        StreamChunk(reasoning="hm"),
        StreamChunk(delta="A"),
        StreamChunk(delta="B", index=1),
        StreamChunk(tool_calls=(ToolCallDelta(0, "c1", "f", "{}"),)),
        StreamChunk(finish_reason="length", index=1),
        StreamChunk(finish_reason="tool_calls", usage=Usage(3, 4)),
    ]


def test_usage_needs_prompt_tokens() -> None:
    assert parse_usage({"completion_tokens": 3}) is None
    assert parse_usage(None) is None


# --- DashScope ---
def test_dashscope_messages_name_the_tool_a_result_answers() -> None:
    messages = [
        ChatMessage(Role.USER, "weather?"),
        ChatMessage(Role.ASSISTANT, "", tool_calls=(CALL,), reasoning="kept here"),
        ChatMessage(Role.TOOL, "18°C", tool_call_id="call_1"),
        ChatMessage(Role.TOOL, "?", tool_call_id="unknown"),
    ]

    assert sdk_messages(messages, MODEL) == [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "",
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "content": "18°C", "tool_call_id": "call_1", "name": "get_weather"},
        {"role": "tool", "content": "?", "tool_call_id": "unknown"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("reasoning", "expected"),
    [
        (Reasoning(effort="high"), {"enable_thinking": True}),
        (Reasoning(max_tokens=500), {"enable_thinking": True, "thinking_budget": 500}),
        (Reasoning(effort="none"), {"enable_thinking": False}),
        (Reasoning(enabled=False, max_tokens=5), {"enable_thinking": False}),
    ],
)
def test_dashscope_reasoning(reasoning: Reasoning, expected: dict[str, Any]) -> None:
    assert sdk_options(GenerationOptions(reasoning=reasoning)) == expected


def test_dashscope_leaves_out_what_it_has_no_parameter_for() -> None:
    options = GenerationOptions(frequency_penalty=1.0, logit_bias={"1": 1.0}, user="u", stop=("x",))

    assert sdk_options(options) == {"stop": ["x"]}


class Response:
    def __init__(self, output: Any, usage: Any) -> None:
        self.output, self.usage = output, usage


def test_dashscope_answers_read_as_openai() -> None:
    streamed = Response(
        {
            "choices": [
                {"message": {"content": "Hi", "reasoning_content": "r"}, "finish_reason": "null"}
            ]
        },
        {"input_tokens": 3, "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 1}},
    )
    text_format = Response({"text": "plain", "finish_reason": "stop"}, {"input_tokens": 1})

    assert openai_body(streamed, key="delta") == {
        "choices": [{"index": 0, "delta": {"content": "Hi", "reasoning_content": "r"},
                     "finish_reason": None}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5,
                  "completion_tokens_details": {"reasoning_tokens": 1}},
    }  # fmt: skip
    body = openai_body(text_format, key="message")
    assert body is not None
    assert body["choices"][0]["message"]["content"] == "plain"
    assert openai_body(Response({}, None), key="message") is None
