"""Tool calls, reasoning and the other options through each vendor's provider, against its
fake on 127.0.0.1 (DashScope through the real SDK): a whole tool loop streamed and not, two
parallel calls, and each vendor's recorded tool-call stream replayed."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest

from simplechat.llm.base import Provider
from simplechat.llm.dashscope import DashScopeProvider
from simplechat.llm.openai_compat import OpenAICompatProvider
from simplechat.llm.openrouter import OpenRouterProvider
from simplechat.llm.retry import RetryPolicy
from simplechat.llm.streams import StreamAssembler
from simplechat.llm.types import (
    ChatMessage,
    Completion,
    GenerationOptions,
    GenerationParams,
    ModelSpec,
    Reasoning,
    ResponseFormat,
    ResponseFormatType,
    Role,
    StreamChunk,
    ToolCallDelta,
    ToolChoice,
    ToolChoiceMode,
    ToolSpec,
)
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.openai_compat import FakeOpenAICompat
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

RECORDINGS = Path(__file__).parents[1] / "fakes" / "recordings"
FAST_RETRY = RetryPolicy(max_retries=1, backoff_seconds=0.01, max_retry_after_seconds=1.0)
WEATHER = ToolSpec(
    "get_weather",
    "The current weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIME = ToolSpec("get_time", "The local time in a city", {"type": "object", "properties": {}})
QUESTION = [
    ChatMessage(Role.SYSTEM, "You are helpful."),
    ChatMessage(Role.USER, "What is the weather in Paris and Tokyo?"),
]
TOOLS = GenerationOptions(tools=(WEATHER, TIME), parallel_tool_calls=True)
PARIS_TOKYO = [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Tokyo"})]

Fake = FakeOpenRouter | FakeOpenAICompat | FakeDashScope


@dataclass
class Upstream:
    name: str
    fake: Fake
    provider: Provider
    model: ModelSpec


@pytest.fixture(params=["openrouter", "openai", "dashscope"])
async def up(
    request: pytest.FixtureRequest, http_session: aiohttp.ClientSession
) -> AsyncIterator[Upstream]:
    name = request.param
    fake: Fake
    provider: Provider
    if name == "openrouter":
        fake = FakeOpenRouter()
        await fake.start()
        provider = OpenRouterProvider(
            http_session, base_url=fake.base_url, api_key=TEST_API_KEY, referer="r", title="t",
            retry=FAST_RETRY,
        )  # fmt: skip
    elif name == "openai":
        fake = FakeOpenAICompat()
        await fake.start()
        provider = OpenAICompatProvider(
            "openai", http_session, fake.base_url, TEST_API_KEY, retry=FAST_RETRY
        )
    else:
        fake = FakeDashScope()
        await fake.start()
        provider = DashScopeProvider(
            http_session, api_key=TEST_API_KEY, base_url=fake.base_url, retry=FAST_RETRY,
            request_timeout=2.0,
        )  # fmt: skip
    model = ModelSpec("m", name, f"{name}-model", 32768, 1024)
    try:
        yield Upstream(name, fake, provider, model)
    finally:
        await fake.stop()


def params(options: GenerationOptions = TOOLS) -> GenerationParams:
    return GenerationParams(max_tokens=256, options=options)


async def chunks_of(
    up: Upstream, messages: list[ChatMessage], p: GenerationParams
) -> list[StreamChunk]:
    return [c async for c in up.provider.stream(up.model, messages, p)]


async def ask(
    up: Upstream, messages: list[ChatMessage], p: GenerationParams, *, stream: bool
) -> Completion:
    if not stream:
        return await up.provider.complete(up.model, messages, p)
    return StreamAssembler().add_all(await chunks_of(up, messages, p)).completion(up.model.name)


def sent(up: Upstream) -> dict[str, object]:
    """The last request's options as the vendor got them (DashScope's are `parameters`)."""
    body = up.fake.requests[-1].json
    return body["parameters"] if up.name == "dashscope" else body


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_whole_tool_loop_with_two_parallel_calls(up: Upstream, stream: bool) -> None:
    up.fake.script.calls = PARIS_TOKYO

    first = await ask(up, QUESTION, params(), stream=stream)

    assert first.finish_reason == "tool_calls"
    assert [(c.name, json.loads(c.arguments)) for c in first.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    assert len({c.id for c in first.tool_calls}) == 2
    assert all(c.id for c in first.tool_calls)
    assert sent(up)["tools"] == [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in (WEATHER, TIME)
    ]
    assert sent(up)["parallel_tool_calls"] is True

    follow_up = [
        *QUESTION,
        ChatMessage(Role.ASSISTANT, first.text, tool_calls=first.tool_calls),
        ChatMessage(Role.TOOL, "18°C, cloudy", tool_call_id=first.tool_calls[0].id),
        ChatMessage(Role.TOOL, "25°C, sunny", tool_call_id=first.tool_calls[1].id),
    ]
    final = await ask(up, follow_up, params(), stream=stream)

    assert final.finish_reason == "stop"
    assert final.text == "Results: 18°C, cloudy; 25°C, sunny"
    assert not final.tool_calls
    replayed = up.fake.requests[-1].json
    history = replayed["input"]["messages"] if up.name == "dashscope" else replayed["messages"]
    assert history[2]["tool_calls"] == [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in first.tool_calls
    ]
    assert history[3]["role"] == "tool"
    assert history[3]["tool_call_id"] == first.tool_calls[0].id
    assert history[4]["content"] == "25°C, sunny"
    if up.name == "dashscope":
        assert history[3]["name"] == "get_weather"  # DashScope's tool messages name the tool
    else:
        assert history[2]["content"] is None  # OpenAI's shape: no text, content null


async def test_streamed_calls_keep_openai_delta_shape(up: Upstream) -> None:
    up.fake.script.calls = PARIS_TOKYO
    up.fake.script.text_before_calls = "Let me check both."

    chunks = await chunks_of(up, QUESTION, params())

    deltas = [d for c in chunks for d in c.tool_calls]
    firsts = [d for d in deltas if d.id is not None]
    assert [(d.index, d.name) for d in firsts] == [(0, "get_weather"), (1, "get_weather")]
    for d in deltas:
        if d.id is None:
            assert d.name is None  # later deltas: only the index and a fragment
    for index in (0, 1):
        mine = [d for d in deltas if d.index == index]
        assert mine[0].id is not None  # the first delta of each call says who it is
        assert json.loads("".join(d.arguments for d in mine))["city"] in {"Paris", "Tokyo"}
    text_at = next(i for i, c in enumerate(chunks) if c.delta)
    call_at = next(i for i, c in enumerate(chunks) if c.tool_calls)
    assert text_at < call_at
    assert "".join(c.delta for c in chunks) == "Let me check both."
    assert chunks[-1].finish_reason == "tool_calls"


async def test_a_forced_tool_and_no_tools(up: Upstream) -> None:
    forced = replace(TOOLS, tool_choice=ToolChoice(ToolChoiceMode.FUNCTION, "get_time"))
    called = await up.provider.complete(up.model, QUESTION, params(forced))

    assert [c.name for c in called.tool_calls] == ["get_time"]
    assert sent(up)["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}

    none = replace(TOOLS, tool_choice=ToolChoice(ToolChoiceMode.NONE))
    plain = await up.provider.complete(up.model, QUESTION, params(none))
    assert not plain.tool_calls
    assert sent(up)["tool_choice"] == "none"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_reasoning_comes_back_and_is_counted(up: Upstream, stream: bool) -> None:
    asked = GenerationOptions(reasoning=Reasoning(effort="high"))

    completion = await ask(up, QUESTION, params(asked), stream=stream)

    assert completion.reasoning == "Let me think about this step by step."
    assert completion.text.startswith("Hello")
    assert completion.usage is not None
    assert completion.usage.reasoning_tokens == 8  # the words of the reasoning
    body = sent(up)
    if up.name == "openrouter":
        assert body["reasoning"] == {"effort": "high"}
    elif up.name == "openai":
        assert body["reasoning_effort"] == "high"
    else:
        assert body["enable_thinking"] is True


async def test_reasoning_is_never_sent_back(up: Upstream) -> None:
    """DeepSeek refuses reasoning in history (the OpenAI-compatible fake does too)."""
    history = [
        *QUESTION,
        ChatMessage(Role.ASSISTANT, "It is sunny.", reasoning="I looked it up."),
        ChatMessage(Role.USER, "thanks, my name is Eric"),
    ]

    completion = await up.provider.complete(up.model, history, params(GenerationOptions()))

    assert completion.text == "Hello Eric! How can I help you today?"
    body = up.fake.requests[-1].json
    messages = body["input"]["messages"] if up.name == "dashscope" else body["messages"]
    assert all("reasoning" not in m and "reasoning_content" not in m for m in messages)


async def test_reasoning_goes_back_to_a_model_that_needs_it(up: Upstream) -> None:
    if isinstance(up.fake, FakeOpenAICompat):
        up.fake.refuse_reasoning_in_history = False
    needs = replace(up.model, replays_reasoning=True)
    history = [*QUESTION, ChatMessage(Role.ASSISTANT, "Sunny.", reasoning="I looked it up.")]

    await up.provider.complete(needs, [*history, QUESTION[1]], params(GenerationOptions()))

    body = up.fake.requests[-1].json
    messages = body["input"]["messages"] if up.name == "dashscope" else body["messages"]
    field = {"openrouter": "reasoning"}.get(up.name, "reasoning_content")
    assert messages[2][field] == "I looked it up."


RECORDINGS_BY_VENDOR = {
    "openrouter": "openrouter_tool_calls.sse",
    "openai": "openai_tool_calls.sse",
    "dashscope": "dashscope_tool_calls.sse",
}


async def test_each_vendors_recorded_tool_call_stream(up: Upstream) -> None:
    """Two parallel calls mixed with text and reasoning, as each vendor streams them."""
    up.fake.replay_next((RECORDINGS / RECORDINGS_BY_VENDOR[up.name]).read_bytes())

    chunks = await chunks_of(up, QUESTION, params())
    done = StreamAssembler().add_all(chunks)

    deltas = [d for c in chunks for d in c.tool_calls]
    assert [d for d in deltas if d.id is not None] == [
        ToolCallDelta(0, id=deltas[0].id, name="get_weather", arguments=deltas[0].arguments),
        ToolCallDelta(
            1,
            id=done.tool_calls[1].id,
            name="get_weather",
            arguments=next(d for d in deltas if d.index == 1).arguments,
        ),
    ]
    assert all(d.name is None for d in deltas if d.id is None)
    assert [json.loads(c.arguments) for c in done.tool_calls] == [
        {"city": "Paris"},
        {"city": "Tokyo"},
    ]
    assert done.tool_calls[0].id != done.tool_calls[1].id
    assert all(len(c.id) > 8 for c in done.tool_calls)  # the vendors' own ids, kept
    assert done.text
    assert done.reasoning
    assert done.finish_reason == "tool_calls"
    assert done.usage is not None
    assert done.usage.reasoning_tokens > 0
    assert chunks[-1].usage == done.usage


async def test_every_option_reaches_the_vendor(up: Upstream) -> None:
    options = GenerationOptions(
        stop=("END",),
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        logit_bias={"1234": -100.0},
        logprobs=True,
        top_logprobs=2,
        user="user-42",
    )

    completion = await up.provider.complete(up.model, QUESTION, params(options))

    body = sent(up)
    assert body["stop"] == ["END"]
    assert body["seed"] == 7
    assert body["presence_penalty"] == 0.5
    assert body["logprobs"] is True
    assert body["top_logprobs"] == 2
    if up.name == "dashscope":  # no such parameters in DashScope's API
        assert {"frequency_penalty", "logit_bias", "user"}.isdisjoint(body)
    else:
        assert body["frequency_penalty"] == 0.25
        assert body["logit_bias"] == {"1234": -100.0}
        assert body["user"] == "user-42"
    assert completion.logprobs
    assert completion.logprobs[0].token == "Hello!"
    assert completion.logprobs[0].top[0].token == "Hello!"


async def test_json_schema_response_format(up: Upstream) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    }
    options = GenerationOptions(
        response_format=ResponseFormat(ResponseFormatType.JSON_SCHEMA, "person", schema, True)
    )

    completion = await up.provider.complete(up.model, QUESTION, params(options))

    assert json.loads(completion.text) == {"name": "Eric", "age": 42}
    assert sent(up)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "person", "schema": schema, "strict": True},
    }


async def test_n_choices_where_the_vendor_gives_them(up: Upstream) -> None:
    completion = await up.provider.complete(up.model, QUESTION, params(GenerationOptions(n=2)))

    assert sent(up)["n"] == 2
    if up.name == "openrouter":  # OpenRouter answers one choice whatever n says
        assert completion.more == ()
    else:
        assert [c.index for c in completion.choices] == [0, 1]
        assert completion.choices[1].text == completion.text


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_excluded_reasoning_is_never_shown(up: Upstream, stream: bool) -> None:
    """OpenRouter hides it itself; for the others the provider drops what comes."""
    hidden = GenerationOptions(reasoning=Reasoning(effort="high", exclude=True))

    completion = await ask(up, QUESTION, params(hidden), stream=stream)

    assert completion.reasoning is None
    assert completion.text.startswith("Hello")
    if up.name == "openrouter":
        assert sent(up)["reasoning"] == {"effort": "high", "exclude": True}
