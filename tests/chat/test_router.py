"""Chatting end to end: the ASGI app, the real test database, fake upstreams on 127.0.0.1."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simplechat.config import DEFAULT_ADVANCED_PROMPT, DEFAULT_SYSTEM_PROMPT, Settings
from simplechat.llm.tokens import default_counter
from simplechat.llm.truncation import MESSAGE_OVERHEAD
from tests.factories import SEED, app_client, make_settings, sign_up, upstream_settings
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY


@pytest.fixture
async def openrouter() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter() as fake:
        yield fake


@pytest.fixture
async def chat(settings: Settings, openrouter: FakeOpenRouter) -> AsyncIterator[httpx.AsyncClient]:
    configured = upstream_settings(
        settings, openrouter_api_key=TEST_API_KEY, openrouter_base_url=openrouter.base_url
    )
    async with app_client(configured) as client:
        yield client


def user_messages(request_json: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request_json["messages"] if m["role"] == "user"]


class TestMock:
    async def test_no_keys_chats_through_labelled_mock(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        response = await client.post("/llm/message", json={"message": SEED}, headers=auth_headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mock"] is True
        assert body["response"].startswith("[mock]")
        assert SEED in body["response"]


class TestSeedExamples:
    async def test_message_advanced_and_history(
        self, chat: httpx.AsyncClient, openrouter: FakeOpenRouter
    ) -> None:
        headers = await sign_up(chat, "eric")
        response = await chat.post("/llm/message", json={"message": SEED}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["response"] == "Hello Eric! How can I help you today?"
        assert response.json()["mock"] is False
        assert response.json()["model"] == "mistralai/mistral-7b-instruct"

        sent = openrouter.requests[-1]
        assert sent.json["model"] == "mistralai/mistral-7b-instruct"
        assert sent.json["messages"][0] == {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}
        assert sent.json["messages"][-1] == {"role": "user", "content": SEED}
        assert sent.header("Authorization") == f"Bearer {TEST_API_KEY}"
        assert sent.header("HTTP-Referer")
        assert sent.header("X-Title") == "simplechat"

        response = await chat.post(
            "/llm/message/advanced", json={"message": "I feel a bit lonely today"}, headers=headers
        )
        assert response.status_code == 200, response.text
        sent = openrouter.requests[-1]
        assert sent.json["messages"][0] == {"role": "system", "content": DEFAULT_ADVANCED_PROMPT}
        # the earlier exchange travels with the new message
        assert user_messages(sent.json) == [SEED, "I feel a bit lonely today"]
        assert sent.json["messages"][2]["role"] == "assistant"

        history = await chat.get("/user/history/2", headers=headers)
        assert history.status_code == 200
        assert history.json() == [
            {"type": "user", "text": "I feel a bit lonely today"},
            {"type": "ai", "text": response.json()["response"]},
        ]
        four = (await chat.get("/user/history/4", headers=headers)).json()
        assert [e["type"] for e in four] == ["user", "ai", "user", "ai"]
        assert four[0] == {"type": "user", "text": SEED}

    async def test_history_is_only_the_callers(
        self, chat: httpx.AsyncClient, openrouter: FakeOpenRouter
    ) -> None:
        eric = await sign_up(chat, "eric")
        mallory = await sign_up(chat, "mallory")
        await chat.post("/llm/message", json={"message": SEED}, headers=eric)
        assert (await chat.get("/user/history/10", headers=mallory)).json() == []
        await chat.post("/llm/message", json={"message": "hello"}, headers=mallory)
        assert user_messages(openrouter.requests[-1].json) == ["hello"]
        assert len((await chat.get("/user/history/10", headers=eric)).json()) == 2


class TestMiddleOut:
    async def test_12000_token_message_fits_8192_model_and_history_keeps_it(
        self, chat: httpx.AsyncClient, openrouter: FakeOpenRouter
    ) -> None:
        counter = default_counter()
        words = [f"word{i}" for i in range(4200)]
        text = "HEAD-MARKER " + " ".join(words) + " TAIL-MARKER"
        assert 11_000 < counter.count(text) < 13_000
        headers = await sign_up(chat, "eric")
        response = await chat.post(
            "/llm/message", json={"message": text, "model": "openchat/openchat-7b"}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["truncated"] is True
        assert 4000 <= body["dropped_tokens"] <= 5500

        sent = openrouter.requests[-1].json
        assert sent["model"] == "openchat/openchat-7b"
        prompt_tokens = sum(
            counter.count(m["content"]) + MESSAGE_OVERHEAD for m in sent["messages"]
        )
        assert prompt_tokens + sent["max_tokens"] <= 8192
        final = sent["messages"][-1]["content"]
        assert final.startswith("HEAD-MARKER word0 word1")
        assert final.endswith("word4199 TAIL-MARKER")
        history = (await chat.get("/user/history/2", headers=headers)).json()
        assert history[0] == {"type": "user", "text": text}

    async def test_context_length_error_retries_once_tighter(
        self, chat: httpx.AsyncClient, openrouter: FakeOpenRouter
    ) -> None:
        headers = await sign_up(chat, "eric")
        openrouter.fail_next("context_length")
        text = " ".join(f"w{i}" for i in range(3000))
        response = await chat.post("/llm/message", json={"message": text}, headers=headers)
        assert response.status_code == 200, response.text
        first, second = openrouter.requests[-2:]
        assert len(second.json["messages"][-1]["content"]) < len(
            first.json["messages"][-1]["content"]
        )


class TestProviderFailures:
    async def _assert_kept_and_refunded(
        self, client: httpx.AsyncClient, headers: dict[str, str], text: str
    ) -> None:
        history = (await client.get("/user/history/1", headers=headers)).json()
        assert history == [{"type": "user", "text": text}]

    @pytest.mark.parametrize(
        ("failure", "opts", "status", "code"),
        [
            ("status", {"status": 503, "retry_after": 0}, 503, "upstream_unavailable"),
            ("status", {"status": 429, "retry_after": 0}, 503, "upstream_unavailable"),
            ("status", {"status": 502}, 502, "upstream_error"),
            ("status", {"status": 402}, 502, "upstream_rejected"),
            ("malformed_json", {}, 502, "upstream_bad_response"),
            ("drop", {}, 503, "upstream_unavailable"),
        ],
    )
    async def test_failure_is_clear_error_keeps_message_and_gives_quota_back(
        self,
        chat: httpx.AsyncClient,
        openrouter: FakeOpenRouter,
        failure: str,
        opts: dict[str, Any],
        status: int,
        code: str,
    ) -> None:
        headers = await sign_up(chat, "eric")
        openrouter.fail_next(failure, times=10, **opts)
        response = await chat.post("/llm/message", json={"message": SEED}, headers=headers)
        assert response.status_code == status, response.text
        assert response.json()["code"] == code
        assert TEST_API_KEY not in response.text
        await self._assert_kept_and_refunded(chat, headers, SEED)
        openrouter._failures.clear()
        # the failed call consumed nothing: the whole burst is still there
        for i in range(3):
            ok = await chat.post("/llm/message", json={"message": f"again {i}"}, headers=headers)
            assert ok.status_code == 200, ok.text

    async def test_refused_key_is_502_without_the_key(
        self, settings: Settings, openrouter: FakeOpenRouter
    ) -> None:
        configured = upstream_settings(
            settings, openrouter_api_key="sk-wrong-key-999", openrouter_base_url=openrouter.base_url
        )
        async with app_client(configured) as client:
            headers = await sign_up(client, "eric")
            response = await client.post("/llm/message", json={"message": SEED}, headers=headers)
        assert response.status_code == 502
        assert response.json()["code"] == "upstream_rejected"
        assert "key" in response.json()["detail"].lower()
        assert "sk-wrong-key-999" not in response.text

    async def test_read_timeout_is_504(
        self, settings: Settings, openrouter: FakeOpenRouter
    ) -> None:
        configured = upstream_settings(
            settings,
            openrouter_api_key=TEST_API_KEY,
            openrouter_base_url=openrouter.base_url,
            read_timeout_seconds=0.3,
            upstream_max_retries=0,
        )
        openrouter.fail_next("slow", delay=2)
        async with app_client(configured) as client:
            headers = await sign_up(client, "eric")
            response = await client.post("/llm/message", json={"message": SEED}, headers=headers)
            assert response.status_code == 504, response.text
            assert response.json()["code"] == "upstream_timeout"
            await self._assert_kept_and_refunded(client, headers, SEED)

    async def test_connect_refused_is_503(self, settings: Settings, tmp_path: Path) -> None:
        configured = upstream_settings(
            settings,
            openrouter_api_key=TEST_API_KEY,
            openrouter_base_url="http://127.0.0.1:9/api/v1",
        )
        async with app_client(configured) as client:
            headers = await sign_up(client, "eric")
            response = await client.post("/llm/message", json={"message": SEED}, headers=headers)
            assert response.status_code == 503, response.text
            await self._assert_kept_and_refunded(client, headers, SEED)


class TestDashScope:
    async def test_qwen_answers_through_the_sdk(self, settings: Settings) -> None:
        async with FakeDashScope() as fake:
            configured = upstream_settings(
                settings, dashscope_api_key=TEST_API_KEY, dashscope_base_url=fake.base_url
            )
            async with app_client(configured) as client:
                headers = await sign_up(client, "eric")
                response = await client.post(
                    "/llm/message", json={"message": SEED, "model": "qwen-plus"}, headers=headers
                )
            assert response.status_code == 200, response.text
            assert response.json()["response"] == "Hello Eric! How can I help you today?"
            sent = fake.requests[-1]
            assert sent.path.endswith("/services/aigc/text-generation/generation")
            assert sent.json["model"] == "qwen-plus"
            assert sent.json["input"]["messages"][-1] == {"role": "user", "content": SEED}
            assert sent.header("Authorization") == f"Bearer {TEST_API_KEY}"


class TestValidation:
    @pytest.mark.parametrize(
        "payload",
        [
            {"message": ""},
            {"message": "   \n"},
            {"message": "hi", "model": "nope/nope"},
            {},
            {"message": 5},
        ],
    )
    async def test_bad_message_is_422(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str], payload: dict[str, Any]
    ) -> None:
        response = await client.post("/llm/message", json=payload, headers=auth_headers)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_input"

    @pytest.mark.parametrize("n", ["0", "-1", "101", "abc"])
    async def test_history_bounds(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str], n: str
    ) -> None:
        response = await client.get(f"/user/history/{n}", headers=auth_headers)
        assert response.status_code == 422

    async def test_chat_needs_a_token(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/llm/message", json={"message": SEED})
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_make_settings_is_isolated(tmp_path: Path) -> None:
    assert make_settings("mongodb://x", "db", tmp_path).openrouter_api_key is None
