"""OpenRouterProvider / OpenAICompatProvider against the fake OpenRouter on 127.0.0.1."""

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import aiohttp
import pytest

from simplechat.kit.errors import (
    ContextTooLong,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from simplechat.llm.openai_compat import OpenAICompatProvider
from simplechat.llm.openrouter import OpenRouterProvider
from simplechat.llm.retry import RetryableError, RetryPolicy, transport_failures
from simplechat.llm.types import (
    ChatMessage,
    ContentPart,
    GenerationParams,
    ModelSpec,
    PartType,
    Role,
    StreamChunk,
    Usage,
)
from tests.factories import RecordedSleeps
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

MODEL = ModelSpec("mistral", "openrouter", "mistralai/mistral-7b-instruct", 32768, 4096)
MESSAGES = [
    ChatMessage(Role.SYSTEM, "You are helpful."),
    ChatMessage(Role.USER, "hi, my name is Eric"),
]
PARAMS = GenerationParams(max_tokens=256, temperature=0.5)
REPLY = "Hello Eric! How can I help you today?"
FAST_RETRY = RetryPolicy(max_retries=2, backoff_seconds=0.01, max_retry_after_seconds=1.0)
KEY_REFUSED = "The server's OpenRouter API key was refused by the provider."


def make_provider(
    fake: FakeOpenRouter,
    session: aiohttp.ClientSession,
    *,
    api_key: str = TEST_API_KEY,
    retry: RetryPolicy = FAST_RETRY,
    timeout: aiohttp.ClientTimeout | None = None,
) -> OpenRouterProvider:
    return OpenRouterProvider(
        session,
        base_url=fake.base_url,
        api_key=api_key,
        referer="https://example.test/app",
        title="simplechat-test",
        retry=retry,
        timeout=timeout,
    )


@pytest.fixture
def provider(
    openrouter_fake: FakeOpenRouter, http_session: aiohttp.ClientSession
) -> OpenRouterProvider:
    return make_provider(openrouter_fake, http_session)


async def collect(chunks: AsyncIterator[StreamChunk], into: list[StreamChunk]) -> None:
    async for chunk in chunks:
        into.append(chunk)


async def answer(provider: OpenRouterProvider, *, stream: bool) -> None:
    if stream:
        await collect(provider.stream(MODEL, MESSAGES, PARAMS), [])
    else:
        await provider.complete(MODEL, MESSAGES, PARAMS)


class TestComplete:
    async def test_sends_openai_request_with_attribution(
        self, provider: OpenRouterProvider, openrouter_fake: FakeOpenRouter
    ) -> None:
        await provider.complete(MODEL, MESSAGES, PARAMS)

        [request] = openrouter_fake.requests
        assert request.path == "/api/v1/chat/completions"
        assert request.json == {
            "model": "mistralai/mistral-7b-instruct",
            "messages": [
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": "hi, my name is Eric"},
            ],
            "max_tokens": 256,
            "temperature": 0.5,
        }
        assert request.header("Authorization") == f"Bearer {TEST_API_KEY}"
        assert request.header("HTTP-Referer") == "https://example.test/app"
        assert request.header("X-OpenRouter-Title") == "simplechat-test"
        assert request.header("X-Title") == "simplechat-test"

    async def test_parses_completion(self, provider: OpenRouterProvider) -> None:
        completion = await provider.complete(MODEL, MESSAGES, PARAMS)

        assert completion.text == REPLY
        assert completion.model == "mistralai/mistral-7b-instruct"
        assert completion.finish_reason == "stop"
        assert completion.usage == Usage(prompt_tokens=8, completion_tokens=8)

    async def test_generic_server_gets_no_attribution_and_no_key(
        self, openrouter_fake: FakeOpenRouter, http_session: aiohttp.ClientSession
    ) -> None:
        generic = OpenAICompatProvider(
            "openai", http_session, openrouter_fake.base_url, None, label="OpenAI-compatible server"
        )
        with pytest.raises(UpstreamRejected) as caught:
            await generic.complete(MODEL, MESSAGES, PARAMS)

        [request] = openrouter_fake.requests
        assert request.header("Authorization") is None
        assert request.header("HTTP-Referer") is None
        assert "OpenAI-compatible server API key was refused" in caught.value.message


class TestStream:
    async def test_streams_deltas_then_finish_with_usage(
        self, provider: OpenRouterProvider, openrouter_fake: FakeOpenRouter
    ) -> None:
        openrouter_fake.keepalive_between_chunks = True
        chunks: list[StreamChunk] = []
        await collect(provider.stream(MODEL, MESSAGES, PARAMS), chunks)

        assert "".join(c.delta for c in chunks) == REPLY
        assert all(c.finish_reason is None for c in chunks[:-1])
        assert chunks[-1] == StreamChunk(finish_reason="stop", usage=Usage(8, 8))
        [request] = openrouter_fake.requests
        assert request.json["stream"] is True
        assert request.json["stream_options"] == {"include_usage": True}

    async def test_retries_before_the_first_chunk(
        self, provider: OpenRouterProvider, openrouter_fake: FakeOpenRouter
    ) -> None:
        openrouter_fake.fail_next("status", status=429, retry_after=0)
        chunks: list[StreamChunk] = []
        await collect(provider.stream(MODEL, MESSAGES, PARAMS), chunks)

        assert "".join(c.delta for c in chunks) == REPLY
        assert len(openrouter_fake.requests) == 2

    @pytest.mark.parametrize(
        ("code", "error_class", "status"),
        [
            (502, UpstreamError, 502),
            ("server_error", UpstreamError, 502),
            (429, UpstreamUnavailable, 503),
        ],
    )
    async def test_midstream_error_raises_after_yielded_chunks(
        self,
        provider: OpenRouterProvider,
        openrouter_fake: FakeOpenRouter,
        code: int | str,
        error_class: type[UpstreamError],
        status: int,
    ) -> None:
        openrouter_fake.fail_next("midstream_error", after=2, code=code)
        chunks: list[StreamChunk] = []
        with pytest.raises(error_class) as caught:
            await collect(provider.stream(MODEL, MESSAGES, PARAMS), chunks)

        assert type(caught.value) is error_class
        assert caught.value.status_code == status
        assert "".join(c.delta for c in chunks) == "Hello Eric!"
        assert len(openrouter_fake.requests) == 1  # never retried once output was sent

    @pytest.mark.parametrize("clean", [False, True])
    async def test_cut_stream_raises_incomplete(
        self, provider: OpenRouterProvider, openrouter_fake: FakeOpenRouter, clean: bool
    ) -> None:
        openrouter_fake.fail_next("cut_stream", after=3, clean=clean)
        chunks: list[StreamChunk] = []
        with pytest.raises(UpstreamBadResponse) as caught:
            await collect(provider.stream(MODEL, MESSAGES, PARAMS), chunks)

        assert caught.value.extra["incomplete"] is True
        assert "".join(c.delta for c in chunks) == "Hello Eric! How"
        assert len(openrouter_fake.requests) == 1

    async def test_malformed_chunk(
        self, provider: OpenRouterProvider, openrouter_fake: FakeOpenRouter
    ) -> None:
        openrouter_fake.fail_next("malformed_json")
        with pytest.raises(UpstreamBadResponse):
            await collect(provider.stream(MODEL, MESSAGES, PARAMS), [])

    async def test_key_refused_before_streaming(
        self, openrouter_fake: FakeOpenRouter, http_session: aiohttp.ClientSession
    ) -> None:
        provider = make_provider(openrouter_fake, http_session, api_key="sk-wrong")
        with pytest.raises(UpstreamRejected, match="API key was refused"):
            await collect(provider.stream(MODEL, MESSAGES, PARAMS), [])

    async def test_stopping_early_releases_the_connection(
        self, provider: OpenRouterProvider, openrouter_fake: FakeOpenRouter
    ) -> None:
        async with aclosing(provider.stream(MODEL, MESSAGES, PARAMS)) as chunks:
            first = await anext(chunks)
        assert first.delta == "Hello"

        completion = await provider.complete(MODEL, MESSAGES, PARAMS)
        assert completion.text == REPLY


class TestErrors:
    async def test_wrong_key_is_refused_without_leaking_it(
        self,
        openrouter_fake: FakeOpenRouter,
        http_session: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        provider = make_provider(openrouter_fake, http_session, api_key="sk-or-wrong-secret")
        with pytest.raises(UpstreamRejected) as caught:
            await provider.complete(MODEL, MESSAGES, PARAMS)

        assert caught.value.message == KEY_REFUSED
        assert caught.value.status_code == 502
        assert caught.value.extra == {"provider": "openrouter", "upstream_status": 401}
        assert "sk-or-wrong-secret" not in repr(caught.value) + caplog.text
        assert len(openrouter_fake.requests) == 1

    @pytest.mark.parametrize(
        ("opts", "error_class", "status", "message_part"),
        [
            ({"status": 402}, UpstreamRejected, 502, "out of credits"),
            ({"status": 403}, UpstreamRejected, 502, KEY_REFUSED),
            ({"status": 400, "message": "bad top_k"}, UpstreamRejected, 502, "bad top_k"),
            ({"status": 404, "message": "No endpoints found"}, UpstreamRejected, 502, "No endpo"),
        ],
    )
    async def test_client_errors_are_not_retried(
        self,
        provider: OpenRouterProvider,
        openrouter_fake: FakeOpenRouter,
        opts: dict[str, Any],
        error_class: type[UpstreamError],
        status: int,
        message_part: str,
    ) -> None:
        openrouter_fake.fail_next("status", **opts)
        with pytest.raises(error_class) as caught:
            await provider.complete(MODEL, MESSAGES, PARAMS)

        assert caught.value.status_code == status
        assert message_part in caught.value.message
        assert len(openrouter_fake.requests) == 1

    async def test_context_length(
        self, provider: OpenRouterProvider, openrouter_fake: FakeOpenRouter
    ) -> None:
        openrouter_fake.fail_next("context_length")
        with pytest.raises(ContextTooLong) as caught:
            await provider.complete(MODEL, MESSAGES, PARAMS)

        assert caught.value.status_code == 400
        assert "maximum context length" in caught.value.message

    async def test_context_length_by_error_type_only(
        self, provider: OpenRouterProvider, openrouter_fake: FakeOpenRouter
    ) -> None:
        metadata = {"error_type": "context_length_exceeded"}
        openrouter_fake.fail_next("status", status=400, message="Too big", metadata=metadata)
        with pytest.raises(ContextTooLong):
            await provider.complete(MODEL, MESSAGES, PARAMS)

    async def test_malformed_json(
        self, provider: OpenRouterProvider, openrouter_fake: FakeOpenRouter
    ) -> None:
        openrouter_fake.fail_next("malformed_json")
        with pytest.raises(UpstreamBadResponse) as caught:
            await provider.complete(MODEL, MESSAGES, PARAMS)

        assert caught.value.status_code == 502
        assert len(openrouter_fake.requests) == 1


class TestRetry:
    async def test_retry_after_is_honoured(
        self,
        openrouter_fake: FakeOpenRouter,
        http_session: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.INFO, logger="simplechat.providers")
        sleeps = RecordedSleeps()
        retry = dataclasses.replace(FAST_RETRY, sleep=sleeps)
        provider = make_provider(openrouter_fake, http_session, retry=retry)
        openrouter_fake.fail_next("status", status=429, retry_after=0.3)
        completion = await provider.complete(MODEL, MESSAGES, PARAMS)

        assert sleeps.waits == [0.3]
        assert completion.text == REPLY
        assert len(openrouter_fake.requests) == 2
        assert "provider.openrouter.retry status=429" in caplog.text
        assert TEST_API_KEY not in caplog.text

    async def test_retry_after_beyond_the_cap_gives_up_at_once(
        self, provider: OpenRouterProvider, openrouter_fake: FakeOpenRouter
    ) -> None:
        openrouter_fake.fail_next("status", status=429, retry_after=30)
        with pytest.raises(UpstreamUnavailable) as caught:
            await provider.complete(MODEL, MESSAGES, PARAMS)

        assert caught.value.status_code == 503
        assert caught.value.headers == {"Retry-After": "30"}
        assert caught.value.extra["retry_after"] == 30
        assert len(openrouter_fake.requests) == 1

    @pytest.mark.parametrize(
        ("status", "error_class", "api_status"),
        [
            (429, UpstreamUnavailable, 503),
            (503, UpstreamUnavailable, 503),
            (529, UpstreamUnavailable, 503),
            (500, UpstreamError, 502),
            (502, UpstreamError, 502),
            (408, UpstreamTimeout, 504),
            (524, UpstreamTimeout, 504),
        ],
    )
    async def test_retries_are_bounded(
        self,
        provider: OpenRouterProvider,
        openrouter_fake: FakeOpenRouter,
        status: int,
        error_class: type[UpstreamError],
        api_status: int,
    ) -> None:
        openrouter_fake.fail_next("status", times=5, status=status)
        with pytest.raises(error_class) as caught:
            await provider.complete(MODEL, MESSAGES, PARAMS)

        assert type(caught.value) is error_class
        assert caught.value.status_code == api_status
        assert caught.value.extra["upstream_status"] == status
        assert len(openrouter_fake.requests) == 1 + FAST_RETRY.max_retries

    async def test_dropped_connection_is_retried(
        self, provider: OpenRouterProvider, openrouter_fake: FakeOpenRouter
    ) -> None:
        openrouter_fake.fail_next("drop")
        completion = await provider.complete(MODEL, MESSAGES, PARAMS)

        assert completion.text == REPLY
        assert len(openrouter_fake.requests) == 2

    async def test_unreachable_server_is_unavailable(
        self, openrouter_fake: FakeOpenRouter, http_session: aiohttp.ClientSession
    ) -> None:
        provider = make_provider(openrouter_fake, http_session)
        await openrouter_fake.stop()
        with pytest.raises(UpstreamUnavailable, match="Could not reach OpenRouter"):
            await provider.complete(MODEL, MESSAGES, PARAMS)

    @pytest.mark.parametrize("stream", [False, True])
    async def test_read_timeout_is_not_retried(
        self, openrouter_fake: FakeOpenRouter, http_session: aiohttp.ClientSession, stream: bool
    ) -> None:
        timeout = aiohttp.ClientTimeout(sock_read=0.1)
        provider = make_provider(openrouter_fake, http_session, timeout=timeout)
        openrouter_fake.fail_next("slow", delay=0.5)
        with pytest.raises(UpstreamTimeout) as caught:
            await answer(provider, stream=stream)

        assert caught.value.status_code == 504
        assert len(openrouter_fake.requests) == 1

    def test_connect_timeouts_are_retryable(self) -> None:
        with (
            pytest.raises(RetryableError) as caught,
            transport_failures("openrouter", "OpenRouter"),
        ):
            raise aiohttp.ConnectionTimeoutError()

        assert isinstance(caught.value.error, UpstreamTimeout)


async def test_fake_lists_models(
    openrouter_fake: FakeOpenRouter, http_session: aiohttp.ClientSession
) -> None:
    async with http_session.get(openrouter_fake.base_url + "/models") as response:
        body = await response.json()

    assert {m["id"]: m["context_length"] for m in body["data"]} == {
        "mistralai/mistral-7b-instruct": 32768,
        "openchat/openchat-7b": 8192,
    }


async def test_images_travel_as_openai_content_parts(
    provider: OpenRouterProvider, openrouter_fake: FakeOpenRouter
) -> None:
    parts = (
        ContentPart(PartType.TEXT, text="what is this?"),
        ContentPart(PartType.IMAGE_URL, url="https://example.com/ant.jpg"),
    )
    picture = ChatMessage(Role.USER, "what is this?", parts=parts)

    await provider.complete(MODEL, [MESSAGES[0], picture], PARAMS)

    assert openrouter_fake.requests[-1].json["messages"] == [
        {"role": "system", "content": "You are helpful."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/ant.jpg"}},
            ],
        },
    ]
