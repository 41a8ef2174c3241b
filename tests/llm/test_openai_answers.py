"""openai_answers: our answers in OpenAI's shape, read back by the openai SDK's own models
and its stream accumulator (which rejects a tool call whose first delta lacks id or name)."""

import json
from pathlib import Path

import aiohttp
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from simplechat.llm.openai_answers import choice_dict, chunk_choice, usage_dict
from simplechat.llm.openai_compat import OpenAICompatProvider
from simplechat.llm.types import (
    Choice,
    GenerationOptions,
    GenerationParams,
    ModelSpec,
    StreamChunk,
    TokenLogprob,
    ToolCall,
    ToolSpec,
    TopLogprob,
    Usage,
)
from tests.fakes.openai_compat import FakeOpenAICompat
from tests.fakes.upstream import TEST_API_KEY
from tests.llm.test_tool_calls import QUESTION

RECORDING = Path(__file__).parents[1] / "fakes" / "recordings" / "openai_tool_calls.sse"
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}


def chunk_json(chunk: StreamChunk) -> dict[str, object]:
    body: dict[str, object] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [chunk_choice(chunk)],
    }
    if chunk.usage is not None:
        body["usage"] = usage_dict(chunk.usage)
    return body


def test_a_whole_answer_reads_as_the_sdks_chat_completion() -> None:
    calls = (ToolCall("call_a", "get_weather", '{"city": "Paris"}'), ToolCall("call_b", "f", "{}"))
    first = Choice(0, "", "tool_calls", calls, "I should look it up.")
    second = Choice(
        1,
        "Sunny.",
        "stop",
        logprobs=(TokenLogprob("Sunny", -0.1, (83,), (TopLogprob("Sunny", -0.1),)),),
    )
    usage = Usage(10, 20, reasoning_tokens=5, cached_tokens=4)

    completion = ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [choice_dict(first), choice_dict(second)],
            "usage": usage_dict(usage),
        }
    )

    message = completion.choices[0].message
    assert message.content is None
    assert message.tool_calls is not None
    assert [(c.id, c.function.name) for c in message.tool_calls] == [  # type: ignore[union-attr]
        ("call_a", "get_weather"),
        ("call_b", "f"),
    ]
    assert message.model_extra == {"reasoning_content": "I should look it up."}
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.choices[1].logprobs is not None
    assert completion.choices[1].logprobs.content[0].token == "Sunny"  # type: ignore[index]
    assert completion.usage is not None
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 5
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 4
    assert "completion_tokens_details" not in usage_dict(Usage(1, 2))


async def test_a_vendors_stream_passed_on_satisfies_the_sdks_stream_helper(
    http_session: aiohttp.ClientSession,
) -> None:
    """The recorded stream (text, reasoning, two interleaved calls) through the provider and
    out in OpenAI's shape: the SDK's accumulator rebuilds both calls."""
    async with FakeOpenAICompat() as fake:
        fake.replay_next(RECORDING.read_bytes())
        provider = OpenAICompatProvider("openai", http_session, fake.base_url, TEST_API_KEY)
        params = GenerationParams(64, options=GenerationOptions(tools=(ToolSpec("get_weather"),)))
        chunks = [
            c
            async for c in provider.stream(
                ModelSpec("m", "openai", "m", 8192, 64), QUESTION, params
            )
        ]
    state = ChatCompletionStreamState(input_tools=[WEATHER_TOOL])  # type: ignore[list-item]

    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk_json(chunk)))
    final = state.get_final_completion()

    message = final.choices[0].message
    assert message.content == "Checking the weather in both cities."
    assert message.tool_calls is not None
    assert [
        (c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls
    ] == [  # type: ignore[union-attr]
        ("call_0_9a1b2c3d", "get_weather", {"city": "Paris"}),
        ("call_1_4e5f6a7b", "get_weather", {"city": "Tokyo"}),
    ]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage is not None
    assert final.usage.completion_tokens_details is not None
    assert final.usage.completion_tokens_details.reasoning_tokens == 7
