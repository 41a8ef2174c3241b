"""Conversations through the ASGI app, the real test database and a fake OpenRouter: made from
a preset, chatted into (whole and streamed), listed, renamed, read with their totals,
regenerated, exported and deleted; nobody else ever sees them."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from simplechat.config import DEFAULT_ADVANCED_PROMPT, DEFAULT_SYSTEM_PROMPT, Settings
from tests.chat.test_streaming import parse_sse
from tests.factories import SEED, app_client, sign_up, stored_documents, upstream_settings
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

MISTRAL = "mistralai/mistral-7b-instruct"
PICTURE = [
    {"type": "text", "text": "what is in this picture?"},
    {"type": "image_url", "image_url": {"url": "https://example.com/ant.jpg"}},
]


@pytest.fixture
async def openrouter() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter() as fake:
        yield fake


@pytest.fixture
def configured(settings: Settings, openrouter: FakeOpenRouter) -> Settings:
    return upstream_settings(
        settings,
        openrouter_api_key=TEST_API_KEY,
        openrouter_base_url=openrouter.base_url,
        burst_limit=50,
    )


@pytest.fixture
async def chat(configured: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(configured) as client:
        yield client


async def caring_preset(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    presets = (await client.get("/presets", headers=headers)).json()["items"]
    return next(p for p in presets if p["builtin"] == "caring")


async def say(
    client: httpx.AsyncClient, headers: dict[str, str], text: str, **more: Any
) -> dict[str, Any]:
    response = await client.post("/llm/message", json={"message": text, **more}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def messages_of(
    client: httpx.AsyncClient, headers: dict[str, str], conversation_id: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/conversations/{conversation_id}/messages?page_size=100", headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


class TestTheIssuesWalkThrough:
    async def test_from_the_caring_preset_to_deletion(
        self, chat: httpx.AsyncClient, openrouter: FakeOpenRouter, configured: Settings
    ) -> None:
        eric = await sign_up(chat, "eric")
        caring = await caring_preset(chat, eric)
        created = await chat.post("/conversations", json={"preset_id": caring["id"]}, headers=eric)
        assert created.status_code == 201, created.text
        conversation = created.json()
        cid = conversation["id"]
        assert conversation["preset"]["name"] == "Caring companion"
        assert conversation["preset"]["messages"] == []  # its system prompt is not shown
        assert (conversation["title"], conversation["default"]) == ("New conversation", False)

        for text in (SEED, "I feel a bit lonely today", "what should I do tonight?"):
            await say(chat, eric, text, conversation_id=cid)
        sent = openrouter.requests[-1].json["messages"]
        assert sent[0] == {"role": "system", "content": DEFAULT_ADVANCED_PROMPT}
        assert [m["content"] for m in sent if m["role"] == "user"] == [
            SEED,
            "I feel a bit lonely today",
            "what should I do tonight?",
        ]
        streamed = await chat.post(
            "/llm/message",
            json={"message": "thank you", "conversation_id": cid, "stream": True},
            headers=eric,
        )
        events = parse_sse(streamed.text)
        assert events[-1] == ("done", None)
        assert events[-2][1]["finish_reason"] == "stop"

        listed = (await chat.get("/conversations", headers=eric)).json()
        assert listed["total"] == 1
        assert listed["items"][0]["title"] == SEED  # made from the first message
        renamed = await chat.patch(
            f"/conversations/{cid}", json={"title": "Evenings"}, headers=eric
        )
        assert renamed.json()["title"] == "Evenings"

        read = (await chat.get(f"/conversations/{cid}", headers=eric)).json()
        messages = read["messages"]["items"]
        assert read["messages"]["total"] == 8
        assert [m["role"] for m in messages] == ["user", "assistant"] * 4
        assert read["message_count"] == 8
        assert read["input_tokens"] == sum(m["input_tokens"] for m in messages) > 0
        assert read["output_tokens"] == sum(m["output_tokens"] for m in messages) > 0
        assert read["total_tokens"] == read["input_tokens"] + read["output_tokens"]
        assert read["prompt_tokens"] == sum(m["prompt_tokens"] for m in messages) > 0
        assert all(m["status"] == "complete" and m["visible"] for m in messages)

        again = await chat.post(f"/conversations/{cid}/regenerate", headers=eric)
        assert again.status_code == 200, again.text
        prompt = openrouter.requests[-1].json["messages"]
        assert prompt[-1] == {"role": "user", "content": "thank you"}
        assert prompt[-2]["role"] == "assistant"  # the answer to the third message
        after = await messages_of(chat, eric, cid)
        assert len(after) == 8
        assert after[-1]["content"] == again.json()["response"]
        assert after[-1]["id"] != messages[-1]["id"]
        hidden = await stored_documents(configured, "messages", {"visible": False})
        assert [str(d["_id"]) for d in hidden] == [messages[-1]["id"]]  # kept, not shown
        read = (await chat.get(f"/conversations/{cid}", headers=eric)).json()
        assert read["message_count"] == 9

        mallory = await sign_up(chat, "mallory")
        assert (await chat.get("/conversations", headers=mallory)).json()["total"] == 0
        assert (await chat.get(f"/conversations/{cid}", headers=mallory)).status_code == 404

        deleted = await chat.delete(f"/conversations/{cid}", headers=eric)
        assert deleted.json() == {"id": cid, "deleted": True, "messages_deleted": 9}
        assert (await chat.get(f"/conversations/{cid}", headers=eric)).status_code == 404
        gone = await chat.get(f"/conversations/{cid}/messages", headers=eric)
        assert gone.status_code == 404
        assert await stored_documents(configured, "messages", {"conversation_id": cid}) == []


class TestDefaultConversation:
    async def test_messages_without_a_conversation_go_to_the_default_one(
        self, chat: httpx.AsyncClient, openrouter: FakeOpenRouter
    ) -> None:
        eric = await sign_up(chat, "eric")
        assert (await chat.get("/conversations", headers=eric)).json()["total"] == 0
        first = await say(chat, eric, SEED)
        assert set(first) == {
            "response",
            "model",
            "usage",
            "truncated",
            "dropped_tokens",
            "prompt_tokens",
            "mock",
        }
        await say(chat, eric, "and again", model="openchat/openchat-7b")
        me = (await chat.get("/user/me", headers=eric)).json()
        (default,) = (await chat.get("/conversations", headers=eric)).json()["items"]
        assert default["id"] == me["id"]
        assert default["default"] is True
        assert default["title"] == SEED
        assert default["message_count"] == 4
        assert openrouter.requests[-1].json["messages"][0]["content"] == DEFAULT_SYSTEM_PROMPT
        # naming it works too, and its history travels
        await say(chat, eric, "third", conversation_id=default["id"])
        users = [
            m["content"] for m in openrouter.requests[-1].json["messages"] if m["role"] == "user"
        ]
        assert users == [SEED, "and again", "third"]

    async def test_a_named_conversation_keeps_its_own_history(
        self, chat: httpx.AsyncClient, openrouter: FakeOpenRouter
    ) -> None:
        eric = await sign_up(chat, "eric")
        await say(chat, eric, "in the default conversation")
        cid = (await chat.post("/conversations", json={}, headers=eric)).json()["id"]
        await say(chat, eric, "in the other one", conversation_id=cid)
        sent = openrouter.requests[-1].json["messages"]
        assert [m["content"] for m in sent if m["role"] == "user"] == ["in the other one"]
        history = (await chat.get("/user/history/4", headers=eric)).json()
        assert [h["text"] for h in history if h["type"] == "user"] == [
            "in the default conversation",
            "in the other one",
        ]

    async def test_settings_of_the_default_conversation_are_refused(
        self, chat: httpx.AsyncClient
    ) -> None:
        eric = await sign_up(chat, "eric")
        await say(chat, eric, SEED)
        me = (await chat.get("/user/me", headers=eric)).json()
        refused = await chat.patch(
            f"/conversations/{me['id']}", json={"model": "mock"}, headers=eric
        )
        assert refused.status_code == 422
        assert "default conversation" in refused.json()["detail"]
        renamed = await chat.patch(
            f"/conversations/{me['id']}", json={"title": "Mine"}, headers=eric
        )
        assert renamed.json()["title"] == "Mine"


class TestSettings:
    async def test_model_and_sampling_travel_upstream(
        self, chat: httpx.AsyncClient, openrouter: FakeOpenRouter
    ) -> None:
        eric = await sign_up(chat, "eric")
        cid = (await chat.post("/conversations", json={"model": MISTRAL}, headers=eric)).json()[
            "id"
        ]
        changed = await chat.patch(
            f"/conversations/{cid}",
            json={"model": "openchat/openchat-7b", "temperature": 0.3, "max_tokens": 100},
            headers=eric,
        )
        assert changed.status_code == 200, changed.text
        await say(chat, eric, SEED, conversation_id=cid)
        sent = openrouter.requests[-1].json
        assert (sent["model"], sent["temperature"], sent["max_tokens"]) == (
            "openchat/openchat-7b",
            0.3,
            100,
        )
        await say(chat, eric, "with another model", conversation_id=cid, model=MISTRAL)
        assert openrouter.requests[-1].json["model"] == MISTRAL  # the request's wins
        back = await chat.patch(f"/conversations/{cid}", json={"temperature": None}, headers=eric)
        assert back.json()["temperature"] is None

    async def test_a_private_preset_with_few_shot_turns_and_parameters(
        self, chat: httpx.AsyncClient, openrouter: FakeOpenRouter
    ) -> None:
        eric = await sign_up(chat, "eric")
        preset = await chat.post(
            "/presets",
            json={
                "name": "Tutor",
                "messages": [
                    {"role": "system", "content": "Answer with a question.", "visible": False},
                    {"role": "user", "content": "What is 2+2?"},
                    {"role": "assistant", "content": "What do you get when you count?"},
                ],
                "parameters": {"model": "openchat/openchat-7b", "temperature": 0.1},
            },
            headers=eric,
        )
        assert preset.status_code == 201, preset.text
        made = await chat.post(
            "/conversations", json={"preset_id": preset.json()["id"]}, headers=eric
        )
        conversation = made.json()
        assert (conversation["model"], conversation["temperature"]) == ("openchat/openchat-7b", 0.1)
        assert [m["role"] for m in conversation["preset"]["messages"]] == ["user", "assistant"]
        # later changes to the preset, or its deletion, leave the conversation as it was
        await chat.delete(f"/presets/{preset.json()['id']}", headers=eric)
        await say(chat, eric, SEED, conversation_id=conversation["id"])
        sent = openrouter.requests[-1].json
        assert [m["content"] for m in sent["messages"]] == [
            "Answer with a question.",
            "What is 2+2?",
            "What do you get when you count?",
            SEED,
        ]
        assert sent["model"] == "openchat/openchat-7b"

    @pytest.mark.parametrize(
        "body",
        [
            {"model": "nope/nope"},
            {"title": ""},
            {"title": "   "},
            {"preset": "x"},
            {"title": "x" * 201},
        ],
    )
    async def test_bad_creations_are_422(
        self, chat: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        eric = await sign_up(chat, "eric")
        response = await chat.post("/conversations", json=body, headers=eric)
        assert response.status_code == 422, response.text

    @pytest.mark.parametrize(
        "body",
        [{"model": "nope/nope"}, {"title": None}, {"temperature": 3}, {"top_p": 0}, {"x": 1}],
    )
    async def test_bad_changes_are_422(self, chat: httpx.AsyncClient, body: dict[str, Any]) -> None:
        eric = await sign_up(chat, "eric")
        cid = (await chat.post("/conversations", json={}, headers=eric)).json()["id"]
        response = await chat.patch(f"/conversations/{cid}", json=body, headers=eric)
        assert response.status_code == 422, response.text

    async def test_an_unknown_preset_is_404(self, chat: httpx.AsyncClient) -> None:
        eric = await sign_up(chat, "eric")
        mallory = await sign_up(chat, "mallory")
        private = await chat.post("/presets", json={"name": "mine"}, headers=mallory)
        for preset_id in ("6b01b59ab1945f3903016ee2", "nope", private.json()["id"]):
            response = await chat.post(
                "/conversations", json={"preset_id": preset_id}, headers=eric
            )
            assert response.status_code == 404, response.text
            assert response.json()["code"] == "preset_not_found"


class TestListing:
    async def test_paged_newest_first_and_searched(self, client: httpx.AsyncClient) -> None:
        eric = await sign_up(client, "eric")
        titles = ["Lyon in May", "a.b (c)", "axb (c)", "Paris", "LYON in june"]
        for title in titles:
            await client.post("/conversations", json={"title": title}, headers=eric)

        page = (await client.get("/conversations?page=2&page_size=2", headers=eric)).json()
        assert page["total"] == 5
        assert (page["page"], page["page_size"]) == (2, 2)
        assert [c["title"] for c in page["items"]] == ["axb (c)", "a.b (c)"]

        async def search(q: str) -> list[str]:
            found = await client.get("/conversations", params={"q": q}, headers=eric)
            assert found.status_code == 200, found.text
            return [c["title"] for c in found.json()["items"]]

        assert await search("lyon") == ["LYON in june", "Lyon in May"]
        assert await search("a.b (c)") == ["a.b (c)"]  # user text, never a pattern
        assert await search(".*") == []
        assert await search("[") == []

    async def test_chatting_moves_a_conversation_to_the_top(
        self, client: httpx.AsyncClient
    ) -> None:
        eric = await sign_up(client, "eric")
        older = (await client.post("/conversations", json={"title": "older"}, headers=eric)).json()
        await client.post("/conversations", json={"title": "newer"}, headers=eric)
        await say(client, eric, "hello", conversation_id=older["id"])
        listed = (await client.get("/conversations", headers=eric)).json()["items"]
        assert [c["title"] for c in listed] == ["older", "newer"]
        assert listed[0]["updated_at"] > older["updated_at"]

    @pytest.mark.parametrize(
        "query", ["page=0", "page_size=0", "page_size=101", "page=abc", "page=10001"]
    )
    async def test_bad_paging_is_422(self, client: httpx.AsyncClient, query: str) -> None:
        eric = await sign_up(client, "eric")
        for path in ("/conversations", "/presets"):
            response = await client.get(f"{path}?{query}", headers=eric)
            assert response.status_code == 422, (path, response.text)


class TestIsolation:
    async def test_another_users_conversation_is_404_everywhere(
        self, client: httpx.AsyncClient
    ) -> None:
        eric = await sign_up(client, "eric")
        mallory = await sign_up(client, "mallory")
        cid = (await client.post("/conversations", json={"title": "secret"}, headers=eric)).json()[
            "id"
        ]
        await say(client, eric, "my PIN is 4321", conversation_id=cid)
        for conversation_id in (cid, "6b01b59ab1945f3903016ee2", "not-an-id"):
            for method, path, body in [
                ("GET", "", None),
                ("PATCH", "", {"title": "mine now"}),
                ("DELETE", "", None),
                ("GET", "/messages", None),
                ("GET", "/export", None),
                ("POST", "/regenerate", None),
            ]:
                response = await client.request(
                    method, f"/conversations/{conversation_id}{path}", json=body, headers=mallory
                )
                assert response.status_code == 404, (method, path, response.text)
                assert response.json()["code"] == "conversation_not_found"
            into = await client.post(
                "/llm/message",
                json={"message": "hi", "conversation_id": conversation_id},
                headers=mallory,
            )
            assert into.status_code == 404
        status = (await client.get("/user/status", headers=mallory)).json()
        assert status["chat_cnt"] == 0  # nothing counted, nothing stored
        assert (await client.get("/user/history/10", headers=mallory)).json() == []
        read = (await client.get(f"/conversations/{cid}", headers=eric)).json()
        assert (read["title"], read["message_count"]) == ("secret", 2)


class TestRegenerate:
    async def test_nothing_to_regenerate_is_409(self, client: httpx.AsyncClient) -> None:
        eric = await sign_up(client, "eric")
        cid = (await client.post("/conversations", json={}, headers=eric)).json()["id"]
        response = await client.post(f"/conversations/{cid}/regenerate", headers=eric)
        assert response.status_code == 409
        assert response.json()["code"] == "nothing_to_regenerate"
        assert (await client.get("/user/status", headers=eric)).json()["chat_cnt"] == 0

    async def test_an_unanswered_message_is_answered_by_a_regeneration(
        self, chat: httpx.AsyncClient, openrouter: FakeOpenRouter
    ) -> None:
        eric = await sign_up(chat, "eric")
        cid = (await chat.post("/conversations", json={}, headers=eric)).json()["id"]
        openrouter.fail_next("status", times=10, status=503, retry_after=0)
        failed = await chat.post(
            "/llm/message", json={"message": SEED, "conversation_id": cid}, headers=eric
        )
        assert failed.status_code == 503
        (message,) = await messages_of(chat, eric, cid)
        assert message["status"] == "unanswered"
        read = (await chat.get(f"/conversations/{cid}", headers=eric)).json()
        assert (read["message_count"], read["title"]) == (1, SEED)
        openrouter._failures.clear()
        streamed = await chat.post(
            f"/conversations/{cid}/regenerate", json={"stream": True}, headers=eric
        )
        assert parse_sse(streamed.text)[-1] == ("done", None)
        question, answer = await messages_of(chat, eric, cid)
        assert (question["status"], answer["status"]) == ("complete", "complete")
        assert answer["content"] == "Hello Eric! How can I help you today?"


class TestExport:
    @pytest.mark.parametrize("fmt", ["markdown", "json"])
    async def test_export(self, client: httpx.AsyncClient, fmt: str) -> None:
        eric = await sign_up(client, "eric")
        cid = (await client.post("/conversations", json={"title": "Trip"}, headers=eric)).json()[
            "id"
        ]
        await say(client, eric, SEED, conversation_id=cid)
        response = await client.get(f"/conversations/{cid}/export?format={fmt}", headers=eric)
        assert response.status_code == 200
        assert "attachment" in response.headers["content-disposition"]
        if fmt == "markdown":
            assert response.headers["content-type"].startswith("text/markdown")
            assert response.text.startswith("# Trip\n")
            assert "## You · " in response.text
            assert SEED in response.text
        else:
            body = response.json()
            assert body["conversation"]["title"] == "Trip"
            assert [m["role"] for m in body["messages"]] == ["user", "assistant"]

    async def test_bad_format_is_422(self, client: httpx.AsyncClient) -> None:
        eric = await sign_up(client, "eric")
        cid = (await client.post("/conversations", json={}, headers=eric)).json()["id"]
        response = await client.get(f"/conversations/{cid}/export?format=pdf", headers=eric)
        assert response.status_code == 422


class TestImages:
    async def test_a_model_that_takes_text_only_refuses_images(
        self, chat: httpx.AsyncClient, configured: Settings
    ) -> None:
        eric = await sign_up(chat, "eric")
        response = await chat.post(
            "/llm/message", json={"message": PICTURE, "model": MISTRAL}, headers=eric
        )
        assert response.status_code == 422
        assert response.json()["code"] == "model_takes_no_images"
        assert "takes_images" in response.json()["detail"]
        assert await stored_documents(configured, "messages") == []
        v1 = await chat.post(
            "/v1/chat/completions",
            json={"model": MISTRAL, "messages": [{"role": "user", "content": PICTURE}]},
            headers=eric,
        )
        assert v1.status_code == 422
        assert v1.json()["error"]["code"] == "model_takes_no_images"
        earlier = [
            {"role": "user", "content": PICTURE},
            {"role": "assistant", "content": "An ant."},
            {"role": "user", "content": "and now?"},
        ]
        v1 = await chat.post(
            "/v1/chat/completions", json={"model": MISTRAL, "messages": earlier}, headers=eric
        )
        assert v1.status_code == 422
        assert await stored_documents(configured, "messages") == []

    async def test_a_model_that_takes_images_gets_them_and_they_are_stored(
        self, client: httpx.AsyncClient
    ) -> None:
        eric = await sign_up(client, "eric")
        answer = await say(client, eric, PICTURE, model="mock")
        assert "and 1 image" in answer["response"]
        me = (await client.get("/user/me", headers=eric)).json()
        question, _ = await messages_of(client, eric, me["id"])
        assert question["content"] == [
            {"type": "text", "text": "what is in this picture?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/ant.jpg"}},
        ]
        assert question["input_tokens"] > 765  # an image counts as a fixed estimate

    @pytest.mark.parametrize(
        "part",
        [
            {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}},
            {"type": "image_url", "image_url": {"url": "javascript:alert(1)"}},
            {"type": "image_url", "image_url": "https://example.com/a.png"},
            {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}},
        ],
    )
    async def test_bad_parts_are_422(self, client: httpx.AsyncClient, part: dict[str, Any]) -> None:
        eric = await sign_up(client, "eric")
        response = await client.post(
            "/llm/message", json={"message": [part], "model": "mock"}, headers=eric
        )
        assert response.status_code == 422


async def test_models_are_listed_with_the_default_marked(client: httpx.AsyncClient) -> None:
    eric = await sign_up(client, "eric")
    models = (await client.get("/llm/models", headers=eric)).json()
    by_name = {m["name"]: m for m in models}
    assert by_name[MISTRAL]["default"] is True
    assert sum(m["default"] for m in models) == 1
    assert by_name["openchat/openchat-7b"] == {
        "name": "openchat/openchat-7b",
        "provider": "openrouter",
        "kind": "chat",
        "context_window": 8192,
        "max_output_tokens": 1024,
        "takes_images": False,
        "capabilities": {
            "tools": False,
            "vision": False,
            "json_output": False,
            "structured_outputs": False,
            "reasoning": False,
        },
        "supported_parameters": [
            "frequency_penalty",
            "logit_bias",
            "max_tokens",
            "presence_penalty",
            "seed",
            "stop",
            "temperature",
            "top_p",
        ],
        "dimensions": None,
        "default": False,
        "description": "OpenChat 7B through OpenRouter.",
        "price": None,
    }
    assert by_name["mock"]["takes_images"] is True
    assert by_name["qwen-plus"]["capabilities"]["reasoning"] is True
    assert by_name["mistralai/mistral-7b-instruct"]["capabilities"]["tools"] is True
    assert by_name["text-embedding-v4"]["kind"] == "embedding"
    assert by_name["text-embedding-v4"]["dimensions"] == 1024
    assert (await client.get("/llm/models")).status_code == 401


async def test_middle_out_keeps_the_first_turn_of_a_long_conversation(
    chat: httpx.AsyncClient, openrouter: FakeOpenRouter
) -> None:
    """Seven long turns into an 8k model: the first one (who the person is) still travels,
    with the newest ones; the middle is what goes."""
    eric = await sign_up(chat, "eric")
    cid = (await chat.post("/conversations", json={}, headers=eric)).json()["id"]
    filler = " ".join(f"w{i}" for i in range(700))  # about 1,400 tokens a turn
    for turn in range(7):
        await say(
            chat, eric, f"turn {turn}: {filler}", conversation_id=cid, model="openchat/openchat-7b"
        )

    answer = await say(
        chat, eric, "so, who am I?", conversation_id=cid, model="openchat/openchat-7b"
    )

    assert answer["truncated"] is True
    users = [m["content"] for m in openrouter.requests[-1].json["messages"] if m["role"] == "user"]
    assert users[0].startswith("turn 0: ")
    assert users[-1] == "so, who am I?"
    assert users[-2].startswith("turn 6: ")
    kept = {u.split(":")[0] for u in users[:-1]}
    assert "turn 0" in kept
    assert kept != {f"turn {i}" for i in range(7)}  # something in the middle went
