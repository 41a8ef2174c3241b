"""The upstream gate: at most SIMPLECHAT_MAX_UPSTREAM_REQUESTS provider requests per worker,
the next refused at once, and every slot given back however the call or stream ends."""

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import aiohttp
import pytest

from simplechat.kit.errors import UpstreamCapacity, UpstreamError
from simplechat.llm.capacity import UpstreamGate
from simplechat.llm.registry import ProviderRegistry, build_registry, make_http_session
from simplechat.llm.types import StreamChunk
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY
from tests.llm.test_registry import MESSAGES, PARAMS, make_settings

LIMIT = 2
AT_ONCE_SECONDS = 0.2  # a refusal must not wait for a slot


@pytest.fixture
async def registry(openrouter_fake: FakeOpenRouter) -> AsyncIterator[ProviderRegistry]:
    settings = make_settings(
        openrouter_api_key=TEST_API_KEY,
        openrouter_base_url=openrouter_fake.base_url,
        max_upstream_requests=LIMIT,
    )
    session = make_http_session(settings)
    try:
        yield build_registry(settings, session)
    finally:
        await session.close()


def in_flight(registry: ProviderRegistry) -> int:
    assert registry.gate is not None
    return registry.gate.in_flight


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_gate_counts_and_refuses_beyond_its_limit() -> None:
    gate = UpstreamGate(2)
    with gate.slot("p"), gate.slot("p"):
        assert gate.in_flight == 2
        with pytest.raises(UpstreamCapacity) as caught, gate.slot("p"):
            pass
        assert caught.value.status_code == 503
        assert caught.value.error_code == "upstream_capacity"
        assert caught.value.headers["Retry-After"] == "1"
        assert caught.value.extra["limit"] == 2
    assert gate.in_flight == 0


def test_gate_gives_the_slot_back_on_error() -> None:
    gate = UpstreamGate(1)
    with pytest.raises(RuntimeError), gate.slot("p"):
        raise RuntimeError("boom")
    assert gate.in_flight == 0


def test_gate_needs_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        UpstreamGate(0)


async def test_third_call_is_refused_at_once_then_slots_come_back(
    registry: ProviderRegistry, openrouter_fake: FakeOpenRouter
) -> None:
    openrouter_fake.fail_next("slow", times=LIMIT, delay=1.0)
    spec, provider = registry.resolve(None)
    calls = [asyncio.create_task(provider.complete(spec, MESSAGES, PARAMS)) for _ in range(LIMIT)]
    await until(lambda: in_flight(registry) == LIMIT)

    started = time.monotonic()
    with pytest.raises(UpstreamCapacity):
        registry.resolve(None)  # refused before anything is done for the message
    with pytest.raises(UpstreamCapacity):
        await provider.complete(spec, MESSAGES, PARAMS)  # and by the provider itself
    assert time.monotonic() - started < AT_ONCE_SECONDS

    await asyncio.gather(*calls)
    assert in_flight(registry) == 0
    assert len(openrouter_fake.requests) == LIMIT  # the refused one never left


async def test_mock_model_is_never_gated(registry: ProviderRegistry) -> None:
    assert registry.gate is not None
    registry.gate.in_flight = LIMIT
    spec, provider = registry.resolve("mock")
    assert (await provider.complete(spec, MESSAGES, PARAMS)).text.startswith("[mock]")


async def test_failed_call_gives_its_slot_back(
    registry: ProviderRegistry, openrouter_fake: FakeOpenRouter
) -> None:
    openrouter_fake.fail_next("status", status=500)
    spec, provider = registry.resolve(None)
    with pytest.raises(UpstreamError):
        await provider.complete(spec, MESSAGES, PARAMS)
    assert in_flight(registry) == 0


async def test_cancelled_call_gives_its_slot_back(
    registry: ProviderRegistry, openrouter_fake: FakeOpenRouter
) -> None:
    openrouter_fake.fail_next("slow", delay=5.0)
    spec, provider = registry.resolve(None)
    call = asyncio.create_task(provider.complete(spec, MESSAGES, PARAMS))
    await until(lambda: in_flight(registry) == 1)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert in_flight(registry) == 0


class TestStreams:
    async def open_stream(self, registry: ProviderRegistry) -> AsyncGenerator[StreamChunk, None]:
        spec, provider = registry.resolve(None)
        stream = provider.stream(spec, MESSAGES, PARAMS)
        await anext(stream)  # the request is sent when the stream is first read
        return stream

    async def test_an_open_stream_holds_a_slot_until_closed(
        self, registry: ProviderRegistry, openrouter_fake: FakeOpenRouter
    ) -> None:
        openrouter_fake.chunk_delay = 0.2
        streams = [await self.open_stream(registry) for _ in range(LIMIT)]
        assert in_flight(registry) == LIMIT
        with pytest.raises(UpstreamCapacity):
            await self.open_stream(registry)

        await streams[0].aclose()  # the client went away mid-stream
        assert in_flight(registry) == 1
        async for _ in streams[1]:  # read to the end
            pass
        assert in_flight(registry) == 0

    async def test_stream_broken_by_the_upstream_gives_its_slot_back(
        self, registry: ProviderRegistry, openrouter_fake: FakeOpenRouter
    ) -> None:
        openrouter_fake.fail_next("midstream_error", after=1)
        stream = await self.open_stream(registry)
        with pytest.raises(UpstreamError):
            async for _ in stream:
                pass
        assert in_flight(registry) == 0

    async def test_cancelled_reader_gives_its_slot_back(
        self, registry: ProviderRegistry, openrouter_fake: FakeOpenRouter
    ) -> None:
        openrouter_fake.chunk_delay = 0.5
        stream = await self.open_stream(registry)

        async def read() -> None:
            async for _ in stream:
                pass

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.05)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        await stream.aclose()  # what ChatStream's `aclosing` does
        assert in_flight(registry) == 0


async def test_session_has_no_connection_cap_below_the_gate() -> None:
    session = make_http_session(make_settings(max_upstream_requests=5000))
    try:
        assert isinstance(session.connector, aiohttp.TCPConnector)
        assert session.connector.limit == 0  # unlimited: the gate is the only bound
    finally:
        await session.close()
