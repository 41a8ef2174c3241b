"""Streaming answers (server-sent events): the format, and what is stored however a stream ends."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from pymongo import AsyncMongoClient

from simplechat.app import create_app
from simplechat.config import Settings
from tests.chat.test_router import SEED, upstream_settings
from tests.factories import app_client, free_port, sign_up
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

GREETING = "Hello Eric! How can I help you today?"


@pytest.fixture
async def openrouter() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter() as fake:
        yield fake


def configured(settings: Settings, fake: FakeOpenRouter, **overrides: Any) -> Settings:
    return upstream_settings(
        settings, openrouter_api_key=TEST_API_KEY, openrouter_base_url=fake.base_url, **overrides
    )


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """(kind, payload) per event: data/error (JSON), done (None) or comment (text)."""
    events: list[tuple[str, Any]] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        if lines[0].startswith(":"):
            events.append(("comment", lines[0]))
            continue
        kind = "data"
        for line in lines:
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
                events.append(("done", None) if data == "[DONE]" else (kind, json.loads(data)))
    return events


async def stored(settings: Settings, role: str) -> list[dict[str, Any]]:
    assert settings.mongodb_uri is not None
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        collection = client[settings.mongodb_db].messages
        return await collection.find({"role": role}).sort("created_at", 1).to_list()
    finally:
        await client.close()


class TestStreamFormat:
    async def test_stream_arrives_in_deltas_and_ends_with_usage_and_done(
        self, settings: Settings, openrouter: FakeOpenRouter
    ) -> None:
        async with app_client(configured(settings, openrouter)) as client:
            headers = await sign_up(client, "eric")
            response = await client.post(
                "/llm/message", json={"message": SEED, "stream": True}, headers=headers
            )
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = parse_sse(response.text)
            deltas = [p for k, p in events if k == "data" and p["finish_reason"] is None]
            assert len(deltas) > 3
            assert "".join(d["content"] for d in deltas) == GREETING
            last = [p for k, p in events if k == "data"][-1]
            assert last["finish_reason"] == "stop"
            assert last["usage"]["total_tokens"] > 0
            assert last["usage_estimated"] is False
            assert events[-1] == ("done", None)
            assert openrouter.requests[-1].json["stream"] is True
            history = (await client.get("/user/history/2", headers=headers)).json()
            assert history == [{"type": "user", "text": SEED}, {"type": "ai", "text": GREETING}]
        replies = await stored(settings, "assistant")
        assert replies[-1]["status"] == "complete"

    async def test_accept_header_asks_for_a_stream(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        response = await client.post(
            "/llm/message/advanced",
            json={"message": SEED},
            headers={**auth_headers, "Accept": "text/event-stream"},
        )
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(response.text)
        text = "".join(p["content"] for k, p in events if k == "data")
        assert text.startswith("[mock]")
        assert events[-1] == ("done", None)

    async def test_keepalive_comments_while_upstream_is_silent(
        self, settings: Settings, openrouter: FakeOpenRouter
    ) -> None:
        openrouter.fail_next("slow", delay=0.5)
        fast = configured(
            settings, openrouter, stream_keepalive_seconds=0.1, stream_first_chunk_wait_seconds=0.05
        )
        async with app_client(fast) as client:
            headers = await sign_up(client, "eric")
            response = await client.post(
                "/llm/message", json={"message": SEED, "stream": True}, headers=headers
            )
        events = parse_sse(response.text)
        assert events[0][0] == "comment"
        assert "".join(p["content"] for k, p in events if k == "data") == GREETING

    async def test_streamed_messages_count_against_limits(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        for _ in range(3):
            ok = await client.post(
                "/llm/message", json={"message": SEED, "stream": True}, headers=auth_headers
            )
            assert ok.status_code == 200
        refused = await client.post(
            "/llm/message", json={"message": SEED, "stream": True}, headers=auth_headers
        )
        assert refused.status_code == 401
        assert refused.json()["code"] == "burst_limit"


class TestStreamFailures:
    async def test_error_before_output_is_a_plain_json_error(
        self, settings: Settings, openrouter: FakeOpenRouter
    ) -> None:
        openrouter.fail_next("status", times=5, status=503, retry_after=0)
        async with app_client(configured(settings, openrouter)) as client:
            headers = await sign_up(client, "eric")
            response = await client.post(
                "/llm/message", json={"message": SEED, "stream": True}, headers=headers
            )
            assert response.status_code == 503
            assert response.json()["code"] == "upstream_unavailable"
            assert (await client.get("/user/status", headers=headers)).json()["chat_cnt"] == 0
        users = await stored(settings, "user")
        assert users[-1]["status"] == "unanswered"

    @pytest.mark.parametrize(
        ("kind", "opts"),
        [
            ("midstream_error", {"after": 3}),
            ("cut_stream", {"after": 3}),
            ("cut_stream", {"after": 3, "clean": True}),
        ],
    )
    async def test_upstream_breaking_mid_stream_keeps_partial_answer(
        self, settings: Settings, openrouter: FakeOpenRouter, kind: str, opts: dict[str, Any]
    ) -> None:
        openrouter.fail_next(kind, **opts)
        async with app_client(configured(settings, openrouter)) as client:
            headers = await sign_up(client, "eric")
            response = await client.post(
                "/llm/message", json={"message": SEED, "stream": True}, headers=headers
            )
            assert response.status_code == 200
            events = parse_sse(response.text)
            partial = "".join(p["content"] for k, p in events if k == "data")
            assert partial == "Hello Eric! How"
            errors = [p for k, p in events if k == "error"]
            assert len(errors) == 1
            assert errors[0]["finish_reason"] == "error"
            assert events[-1] == ("done", None)
            history = (await client.get("/user/history/2", headers=headers)).json()
            assert history == [{"type": "user", "text": SEED}, {"type": "ai", "text": partial}]
            # the upstream failed: the message does not count against the limits
            assert (await client.get("/user/status", headers=headers)).json()["chat_cnt"] == 0
        reply = (await stored(settings, "assistant"))[-1]
        assert reply["status"] == "incomplete"
        assert reply["usage"]["estimated"] is True
        assert reply["usage"]["completion_tokens"] > 0
        message = (await stored(settings, "user"))[-1]
        assert message["status"] == "sent"
        assert reply["reply_to"] == str(message["_id"])


class TestClientDisconnect:
    async def test_client_leaving_cancels_upstream_and_keeps_partial(
        self, settings: Settings, openrouter: FakeOpenRouter
    ) -> None:
        openrouter.reply = " ".join(f"word{i}" for i in range(200))
        openrouter.chunk_delay = 0.05
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(configured(settings, openrouter)), port=port, log_level="warning"
            )
        )
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                headers = await sign_up(client, "eric")
                received = 0
                async with client.stream(
                    "POST", "/llm/message", json={"message": SEED, "stream": True}, headers=headers
                ) as response:
                    async for line in response.aiter_lines():
                        received += line.startswith("data: ")
                        if received == 3:
                            break  # leaving the block closes the connection mid-stream
                for _ in range(100):
                    replies = await stored(settings, "assistant")
                    if replies:
                        break
                    await asyncio.sleep(0.05)
                assert replies, "the partial reply was not stored"
                assert replies[-1]["status"] == "incomplete"
                assert replies[-1]["text"].startswith("word0 word1")
                assert len(replies[-1]["text"].split()) < 200
                for _ in range(40):
                    if openrouter.aborted_streams:
                        break
                    await asyncio.sleep(0.05)
                assert openrouter.aborted_streams == 1
                history = (await client.get("/user/history/2", headers=headers)).json()
                assert history[0] == {"type": "user", "text": SEED}
                assert history[1]["text"] == replies[-1]["text"]
        finally:
            server.should_exit = True
            await serving
