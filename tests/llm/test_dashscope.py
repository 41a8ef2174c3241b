"""DashScopeProvider through the real dashscope SDK against the fake DashScope on 127.0.0.1."""

import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import aiohttp
import dashscope
import pytest
from dashscope.api_entities import aio_session

from simplechat.kit.errors import (
    ContextTooLong,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from simplechat.llm.dashscope import DashScopeProvider
from simplechat.llm.retry import RetryPolicy
from simplechat.llm.types import ChatMessage, GenerationParams, ModelSpec, Role, StreamChunk, Usage
from tests.factories import RecordedSleeps
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.upstream import TEST_API_KEY

MODEL = ModelSpec("qwen", "dashscope", "qwen-plus", 131072, 16384)
MESSAGES = [
    ChatMessage(Role.SYSTEM, "You are helpful."),
    ChatMessage(Role.USER, "hi, my name is Eric"),
]
PARAMS = GenerationParams(max_tokens=300, temperature=0.7, top_p=0.8)
REPLY = "Hello Eric! How can I help you today?"
FAST_RETRY = RetryPolicy(max_retries=2, backoff_seconds=0.01, max_retry_after_seconds=1.0)
GENERATION_PATH = "/api/v1/services/aigc/text-generation/generation"


def make_provider(
    fake: FakeDashScope,
    session: aiohttp.ClientSession,
    *,
    api_key: str = TEST_API_KEY,
    retry: RetryPolicy = FAST_RETRY,
    request_timeout: float = 2.0,
) -> DashScopeProvider:
    return DashScopeProvider(
        session,
        api_key=api_key,
        base_url=fake.base_url,
        retry=retry,
        request_timeout=request_timeout,
    )


@pytest.fixture
def provider(
    dashscope_fake: FakeDashScope, http_session: aiohttp.ClientSession
) -> DashScopeProvider:
    return make_provider(dashscope_fake, http_session)


async def collect(chunks: AsyncIterator[StreamChunk], into: list[StreamChunk]) -> None:
    async for chunk in chunks:
        into.append(chunk)


async def answer(provider: DashScopeProvider, *, stream: bool) -> None:
    if stream:
        await collect(provider.stream(MODEL, MESSAGES, PARAMS), [])
    else:
        await provider.complete(MODEL, MESSAGES, PARAMS)


class TestComplete:
    async def test_sends_native_request(
        self, provider: DashScopeProvider, dashscope_fake: FakeDashScope
    ) -> None:
        await provider.complete(MODEL, MESSAGES, PARAMS)

        [request] = dashscope_fake.requests
        assert request.path == GENERATION_PATH
        assert request.header("Authorization") == f"Bearer {TEST_API_KEY}"
        assert request.header("X-DashScope-SSE") is None
        assert request.json == {
            "model": "qwen-plus",
            "parameters": {
                "temperature": 0.7,
                "top_p": 0.8,
                "max_tokens": 300,
                "result_format": "message",
            },
            "input": {
                "messages": [
                    {"role": "system", "content": "You are helpful."},
                    {"role": "user", "content": "hi, my name is Eric"},
                ]
            },
        }

    async def test_parses_completion(self, provider: DashScopeProvider) -> None:
        completion = await provider.complete(MODEL, MESSAGES, PARAMS)

        assert completion.text == REPLY
        assert completion.model == "qwen-plus"
        assert completion.finish_reason == "stop"
        assert completion.usage == Usage(prompt_tokens=8, completion_tokens=8)

    async def test_uses_our_session_and_no_sdk_globals(self, provider: DashScopeProvider) -> None:
        sdk_key, sdk_url = dashscope.api_key, dashscope.base_http_api_url
        await provider.complete(MODEL, MESSAGES, PARAMS)
        await collect(provider.stream(MODEL, MESSAGES, PARAMS), [])

        assert not aio_session._aio_sessions  # the SDK never opened its shared session
        assert (dashscope.api_key, dashscope.base_http_api_url) == (sdk_key, sdk_url)
        await provider.aclose()  # close_shared_aio_session is a coroutine despite its stub


class TestStream:
    async def test_streams_incremental_deltas_then_usage(
        self, provider: DashScopeProvider, dashscope_fake: FakeDashScope
    ) -> None:
        chunks: list[StreamChunk] = []
        await collect(provider.stream(MODEL, MESSAGES, PARAMS), chunks)

        assert [c.delta for c in chunks[:3]] == ["Hello", " Eric!", " How"]
        assert "".join(c.delta for c in chunks) == REPLY
        assert chunks[-1] == StreamChunk(finish_reason="stop", usage=Usage(8, 8))
        [request] = dashscope_fake.requests
        assert request.header("X-DashScope-SSE") == "enable"
        assert request.json["parameters"]["incremental_output"] is True
        assert "stream" not in request.json["parameters"]

    async def test_midstream_error_raises_after_yielded_chunks(
        self, provider: DashScopeProvider, dashscope_fake: FakeDashScope
    ) -> None:
        dashscope_fake.fail_next("midstream_error", after=2)
        chunks: list[StreamChunk] = []
        with pytest.raises(UpstreamRejected, match="inappropriate content"):
            await collect(provider.stream(MODEL, MESSAGES, PARAMS), chunks)

        assert "".join(c.delta for c in chunks) == "Hello Eric!"
        assert len(dashscope_fake.requests) == 1

    async def test_midstream_server_error_is_not_retried(
        self, provider: DashScopeProvider, dashscope_fake: FakeDashScope
    ) -> None:
        dashscope_fake.fail_next("midstream_error", after=1, status=500, code="InternalError")
        chunks: list[StreamChunk] = []
        with pytest.raises(UpstreamError) as caught:
            await collect(provider.stream(MODEL, MESSAGES, PARAMS), chunks)

        assert caught.value.extra["upstream_status"] == 500
        assert [c.delta for c in chunks] == ["Hello"]
        assert len(dashscope_fake.requests) == 1

    @pytest.mark.parametrize("clean", [False, True])
    async def test_cut_stream_raises_incomplete(
        self, provider: DashScopeProvider, dashscope_fake: FakeDashScope, clean: bool
    ) -> None:
        dashscope_fake.fail_next("cut_stream", after=3, clean=clean)
        chunks: list[StreamChunk] = []
        with pytest.raises(UpstreamBadResponse) as caught:
            await collect(provider.stream(MODEL, MESSAGES, PARAMS), chunks)

        assert caught.value.extra["incomplete"] is True
        assert "".join(c.delta for c in chunks) == "Hello Eric! How"

    async def test_throttled_before_streaming_is_retried(
        self, provider: DashScopeProvider, dashscope_fake: FakeDashScope
    ) -> None:
        dashscope_fake.fail_next("throttle", retry_after=0)
        chunks: list[StreamChunk] = []
        await collect(provider.stream(MODEL, MESSAGES, PARAMS), chunks)

        assert "".join(c.delta for c in chunks) == REPLY
        assert len(dashscope_fake.requests) == 2

    async def test_malformed_first_chunk_is_retried_like_a_500(
        self, provider: DashScopeProvider, dashscope_fake: FakeDashScope
    ) -> None:
        # The SDK reports an unparsable stream chunk as status 500, code "Unknown".
        dashscope_fake.fail_next("malformed_json")
        chunks: list[StreamChunk] = []
        await collect(provider.stream(MODEL, MESSAGES, PARAMS), chunks)

        assert "".join(c.delta for c in chunks) == REPLY
        assert len(dashscope_fake.requests) == 2

    async def test_stopping_early_releases_the_connection(
        self, provider: DashScopeProvider
    ) -> None:
        async with aclosing(provider.stream(MODEL, MESSAGES, PARAMS)) as chunks:
            first = await anext(chunks)
        assert first.delta == "Hello"

        completion = await provider.complete(MODEL, MESSAGES, PARAMS)
        assert completion.text == REPLY

    async def test_key_refused_before_streaming(
        self, dashscope_fake: FakeDashScope, http_session: aiohttp.ClientSession
    ) -> None:
        provider = make_provider(dashscope_fake, http_session, api_key="sk-wrong-secret")
        with pytest.raises(UpstreamRejected) as caught:
            await collect(provider.stream(MODEL, MESSAGES, PARAMS), [])

        assert caught.value.message == "The server's DashScope API key was refused by the provider."
        assert "sk-wrong-secret" not in repr(caught.value)


class TestErrors:
    async def test_wrong_key(
        self, dashscope_fake: FakeDashScope, http_session: aiohttp.ClientSession
    ) -> None:
        provider = make_provider(dashscope_fake, http_session, api_key="sk-wrong-secret")
        with pytest.raises(UpstreamRejected) as caught:
            await provider.complete(MODEL, MESSAGES, PARAMS)

        assert caught.value.status_code == 502
        assert caught.value.message == "The server's DashScope API key was refused by the provider."
        assert caught.value.extra == {"provider": "dashscope", "upstream_status": 401}
        assert len(dashscope_fake.requests) == 1

    @pytest.mark.parametrize(
        ("kind", "opts", "error_class", "status", "attempts"),
        [
            ("throttle", {}, UpstreamUnavailable, 503, 3),
            ("status", {"status": 503}, UpstreamUnavailable, 503, 3),
            ("status", {"status": 500}, UpstreamError, 502, 3),
            ("context_length", {}, ContextTooLong, 400, 1),
            ("status", {"status": 400, "message": "Arrearage"}, UpstreamRejected, 502, 1),
            ("status", {"status": 403}, UpstreamRejected, 502, 1),
            ("malformed_json", {}, UpstreamBadResponse, 502, 1),
        ],
    )
    async def test_error_mapping(
        self,
        provider: DashScopeProvider,
        dashscope_fake: FakeDashScope,
        kind: str,
        opts: dict[str, Any],
        error_class: type[UpstreamError],
        status: int,
        attempts: int,
    ) -> None:
        dashscope_fake.fail_next(kind, times=5, **opts)
        with pytest.raises(error_class) as caught:
            await provider.complete(MODEL, MESSAGES, PARAMS)

        assert type(caught.value) is error_class
        assert caught.value.status_code == status
        assert len(dashscope_fake.requests) == attempts

    async def test_throttling_code_counts_as_429(
        self, provider: DashScopeProvider, dashscope_fake: FakeDashScope
    ) -> None:
        dashscope_fake.fail_next("status", status=400, code="Throttling.AllocationQuota")
        completion = await provider.complete(MODEL, MESSAGES, PARAMS)

        assert completion.text == REPLY
        assert len(dashscope_fake.requests) == 2

    async def test_retry_after_is_honoured(
        self, dashscope_fake: FakeDashScope, http_session: aiohttp.ClientSession
    ) -> None:
        sleeps = RecordedSleeps()
        retry = dataclasses.replace(FAST_RETRY, sleep=sleeps)
        provider = make_provider(dashscope_fake, http_session, retry=retry)
        dashscope_fake.fail_next("throttle", retry_after=0.3)
        await provider.complete(MODEL, MESSAGES, PARAMS)

        assert sleeps.waits == [0.3]

    async def test_dropped_connections_are_retried(
        self, provider: DashScopeProvider, dashscope_fake: FakeDashScope
    ) -> None:
        # The SDK itself resends once on a dropped connection, so two drops fail one attempt.
        dashscope_fake.fail_next("drop", times=2)
        completion = await provider.complete(MODEL, MESSAGES, PARAMS)

        assert completion.text == REPLY
        assert len(dashscope_fake.requests) == 3

    @pytest.mark.parametrize("stream", [False, True])
    async def test_timeout(
        self, dashscope_fake: FakeDashScope, http_session: aiohttp.ClientSession, stream: bool
    ) -> None:
        provider = make_provider(dashscope_fake, http_session, request_timeout=0.1)
        dashscope_fake.fail_next("slow", times=5, delay=0.5)
        with pytest.raises(UpstreamTimeout) as caught:
            await answer(provider, stream=stream)

        assert caught.value.status_code == 504
        # Not retried by us; but a stream whose reply has not started is one the SDK resends
        # itself once (it treats the read timeout as a dropped connection).
        assert len(dashscope_fake.requests) == (2 if stream else 1)


async def test_fake_streams_cumulative_text_without_incremental_output(
    dashscope_fake: FakeDashScope, http_session: aiohttp.ClientSession
) -> None:
    messages = [{"role": "user", "content": "hi"}]
    body = {
        "model": "qwen-plus",
        "parameters": {"result_format": "text"},
        "input": {"messages": messages},
    }
    headers = {"Authorization": f"Bearer {TEST_API_KEY}", "X-DashScope-SSE": "enable"}
    url = dashscope_fake.base_url + "/services/aigc/text-generation/generation"
    async with http_session.post(url, json=body, headers=headers) as response:
        events = (await response.text()).strip().split("\n\n")

    assert events[0].startswith("id:1\nevent:result\n:HTTP_STATUS/200\ndata:{")
    contents = [json.loads(e.split("data:", 1)[1])["output"]["text"] for e in events]
    assert contents[:2] == ["Hello!", "Hello! How"]
    assert contents[-1] == "Hello! How can I help you today?"
