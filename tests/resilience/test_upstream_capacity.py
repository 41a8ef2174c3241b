"""More messages at once than SIMPLECHAT_MAX_UPSTREAM_REQUESTS: the next one is refused at once
with a 503 JSON error (nothing queued, nothing stored, nothing counted), and the slots come back
whether the streams before it ended, failed, or their clients went away."""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from simplechat.app import create_app
from simplechat.config import Settings
from tests.factories import free_port, sign_up, upstream_settings
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

LIMIT = 2
AT_ONCE_SECONDS = 1.0  # a refusal does not wait for a slot (the slow streams take 10 s)


@pytest.fixture
async def openrouter() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter() as fake:
        fake.reply = " ".join(f"word{i}" for i in range(50))
        fake.chunk_delay = 0.2  # 10 s per answer
        yield fake


@pytest.fixture
async def base_url(settings: Settings, openrouter: FakeOpenRouter) -> AsyncIterator[str]:
    """The app under a real uvicorn, so a client that hangs up is seen as one."""
    configured = upstream_settings(
        settings,
        openrouter_api_key=TEST_API_KEY,
        openrouter_base_url=openrouter.base_url,
        max_upstream_requests=LIMIT,
        read_timeout_seconds=30.0,  # a loaded machine must not end the held streams early
        burst_limit=100,
        burst_window_seconds=1,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(configured), port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


async def first_event(
    client: httpx.AsyncClient, headers: dict[str, str], text: str
) -> AsyncIterator[None]:
    """Open a stream, wait for its first word, hold it open; leaving closes the connection."""
    body = {"message": text, "stream": True}
    async with client.stream("POST", "/llm/message", json=body, headers=headers) as response:
        assert response.status_code == 200
        lines = response.aiter_lines()  # kept: an abandoned iterator would close the stream
        async for line in lines:
            if line.startswith("data: "):
                break
        yield


async def hold_streams(
    client: httpx.AsyncClient, headers: dict[str, str], n: int
) -> list[AsyncIterator[None]]:
    held = []
    for i in range(n):
        stream = first_event(client, headers, f"stream {i}")
        await anext(stream)
        held.append(stream)
    return held


async def let_go(held: list[AsyncIterator[None]]) -> None:
    """The clients hang up mid-stream."""
    for stream in held:
        with pytest.raises(StopAsyncIteration):
            await anext(stream)


async def test_third_message_is_refused_at_once_and_slots_come_back(
    base_url: str, openrouter: FakeOpenRouter
) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        headers = await sign_up(client, "eric")
        held = await hold_streams(client, headers, LIMIT)

        started = time.monotonic()
        refused = await client.post("/llm/message", json={"message": "third"}, headers=headers)
        elapsed = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert elapsed < AT_ONCE_SECONDS, f"the refusal took {elapsed:.2f} s"
        assert refused.json()["code"] == "upstream_capacity"
        assert refused.json()["limit"] == LIMIT
        assert refused.headers["Retry-After"] == "1"

        body = {
            "model": "mistralai/mistral-7b-instruct",
            "messages": [{"role": "user", "content": "hi"}],
        }
        openai = await client.post("/v1/chat/completions", json=body, headers=headers)
        assert openai.status_code == 503
        assert openai.json()["error"]["code"] == "upstream_capacity"

        status = (await client.get("/user/status", headers=headers)).json()
        assert status["chat_cnt"] == LIMIT  # the refused messages were not counted...
        history = (await client.get("/user/history/10", headers=headers)).json()
        assert "third" not in [entry["text"] for entry in history]  # ...nor stored

        await let_go(held)  # the clients leave mid-stream: their slots come back
        openrouter.chunk_delay = 0.0
        again = await asyncio.gather(
            *(
                client.post("/llm/message", json={"message": f"again {i}"}, headers=headers)
                for i in range(LIMIT)
            )
        )
        assert [r.status_code for r in again] == [200] * LIMIT


async def test_failed_calls_give_their_slots_back(
    base_url: str, openrouter: FakeOpenRouter
) -> None:
    openrouter.chunk_delay = 0.0
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        headers = await sign_up(client, "eric")
        openrouter.fail_next("status", times=3 * (LIMIT + 1), status=500)
        for i in range(LIMIT + 1):
            failed = await client.post("/llm/message", json={"message": f"f{i}"}, headers=headers)
            assert failed.status_code == 502
        openrouter.fail_next("midstream_error", times=LIMIT + 1, after=1)
        for i in range(LIMIT + 1):
            body = {"message": f"s{i}", "stream": True}
            broken = await client.post("/llm/message", json=body, headers=headers)
            assert "event: error" in broken.text
        assert openrouter.pending_failures == 0
        ok = await asyncio.gather(
            *(
                client.post("/llm/message", json={"message": "ok"}, headers=headers)
                for _ in range(2)
            )
        )
        assert [r.status_code for r in ok] == [200, 200]
