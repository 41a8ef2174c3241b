"""The OpenAI-compatible API, driven by the official `openai` package as a real client."""

from collections.abc import AsyncIterator

import httpx
import openai
import pytest

from simplechat.config import Settings
from simplechat.llm.tokens import default_counter
from simplechat.llm.truncation import MESSAGE_OVERHEAD
from tests.chat.test_router import SEED, upstream_settings
from tests.factories import app_client, sign_up
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

GREETING = "Hello Eric! How can I help you today?"


@pytest.fixture
async def openrouter() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter() as fake:
        yield fake


@pytest.fixture
async def http(settings: Settings, openrouter: FakeOpenRouter) -> AsyncIterator[httpx.AsyncClient]:
    configured = upstream_settings(
        settings, openrouter_api_key=TEST_API_KEY, openrouter_base_url=openrouter.base_url
    )
    async with app_client(configured) as client:
        yield client


async def sdk(http: httpx.AsyncClient, username: str = "eric") -> openai.AsyncOpenAI:
    headers = await sign_up(http, username)
    token = headers["Authorization"].removeprefix("Bearer ")
    return openai.AsyncOpenAI(
        base_url="http://testserver/v1", api_key=token, http_client=http, max_retries=0
    )


async def test_chat_completion(http: httpx.AsyncClient, openrouter: FakeOpenRouter) -> None:
    client = await sdk(http)
    completion = await client.chat.completions.create(
        model="mistralai/mistral-7b-instruct",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": SEED}],
    )
    assert completion.choices[0].message.content == GREETING
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0
    assert completion.model == "mistralai/mistral-7b-instruct"
    sent = openrouter.requests[-1].json
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": SEED},
    ]
    history = (
        await http.get("/user/history/2", headers={"Authorization": f"Bearer {client.api_key}"})
    ).json()
    assert history == [{"type": "user", "text": SEED}, {"type": "ai", "text": GREETING}]


async def test_streaming_with_usage(http: httpx.AsyncClient) -> None:
    client = await sdk(http)
    stream = await client.chat.completions.create(
        model="mistralai/mistral-7b-instruct",
        messages=[{"role": "user", "content": SEED}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", None, None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == GREETING
    assert finish == "stop"
    assert usage is not None
    assert usage.completion_tokens > 0


async def test_streaming_without_usage_option_sends_no_usage_chunk(http: httpx.AsyncClient) -> None:
    client = await sdk(http)
    stream = await client.chat.completions.create(
        model="mistralai/mistral-7b-instruct",
        messages=[{"role": "user", "content": SEED}],
        stream=True,
    )
    chunks = [chunk async for chunk in stream]
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)


async def test_models_list_is_the_catalog(http: httpx.AsyncClient) -> None:
    client = await sdk(http)
    ids = [model.id async for model in client.models.list()]
    assert "mistralai/mistral-7b-instruct" in ids
    assert "openchat/openchat-7b" in ids


async def test_middle_out_fits_the_clients_own_long_conversation(
    http: httpx.AsyncClient, openrouter: FakeOpenRouter
) -> None:
    client = await sdk(http)
    turns = []
    for i in range(40):
        turns.append({"role": "user", "content": f"question {i} " + "lorem ipsum " * 150})
        turns.append({"role": "assistant", "content": f"answer {i} " + "dolor sit " * 150})
    turns.append({"role": "user", "content": "and finally?"})
    await client.chat.completions.create(model="openchat/openchat-7b", messages=turns)  # type: ignore[arg-type]
    sent = openrouter.requests[-1].json
    counter = default_counter()
    total = sum(counter.count(m["content"]) + MESSAGE_OVERHEAD for m in sent["messages"])
    assert total + sent["max_tokens"] <= 8192
    assert sent["messages"][0]["content"].startswith("question 0")
    assert sent["messages"][-1]["content"] == "and finally?"


class TestErrorsInOpenAIShape:
    async def test_unknown_model(self, http: httpx.AsyncClient) -> None:
        client = await sdk(http)
        with pytest.raises(openai.UnprocessableEntityError) as raised:
            await client.chat.completions.create(
                model="nope/nope", messages=[{"role": "user", "content": "hi"}]
            )
        assert raised.value.code == "invalid_input"
        assert "nope/nope" in raised.value.message

    async def test_bad_token(self, http: httpx.AsyncClient) -> None:
        client = openai.AsyncOpenAI(
            base_url="http://testserver/v1", api_key="not-a-token", http_client=http, max_retries=0
        )
        with pytest.raises(openai.AuthenticationError) as raised:
            await client.chat.completions.create(
                model="mock", messages=[{"role": "user", "content": "hi"}]
            )
        assert raised.value.code == "not_authenticated"

    async def test_limits_apply(self, http: httpx.AsyncClient) -> None:
        client = await sdk(http)
        for _ in range(3):
            await client.chat.completions.create(
                model="mock", messages=[{"role": "user", "content": "hi"}]
            )
        with pytest.raises(openai.APIStatusError) as raised:
            await client.chat.completions.create(
                model="mock", messages=[{"role": "user", "content": "hi"}]
            )
        assert raised.value.status_code == 401
        assert raised.value.code == "burst_limit"
        body = raised.value.body
        assert isinstance(body, dict)
        assert body["type"] == "rate_limit_error"

    async def test_upstream_failure(
        self, http: httpx.AsyncClient, openrouter: FakeOpenRouter
    ) -> None:
        client = await sdk(http)
        openrouter.fail_next("status", times=5, status=503, retry_after=0)
        with pytest.raises(openai.InternalServerError) as raised:
            await client.chat.completions.create(
                model="mistralai/mistral-7b-instruct", messages=[{"role": "user", "content": "hi"}]
            )
        assert raised.value.status_code == 503

    async def test_no_user_message(self, http: httpx.AsyncClient) -> None:
        client = await sdk(http)
        with pytest.raises(openai.UnprocessableEntityError):
            await client.chat.completions.create(
                model="mock", messages=[{"role": "system", "content": "x"}]
            )

    async def test_validation_error_shape(self, http: httpx.AsyncClient) -> None:
        response = await http.post("/v1/chat/completions", json={"messages": []})
        assert response.status_code in (401, 422)
        assert set(response.json()["error"]) >= {"message", "type", "code"}


async def test_the_sdk_continues_a_conversation_with_extra_body(
    http: httpx.AsyncClient, openrouter: FakeOpenRouter
) -> None:
    client = await sdk(http)
    headers = {"Authorization": f"Bearer {client.api_key}"}
    created = await http.post("/conversations", json={"title": "From the SDK"}, headers=headers)
    cid = created.json()["id"]
    history = [{"role": "user", "content": SEED}]
    first = await client.chat.completions.create(
        model="mistralai/mistral-7b-instruct",
        messages=history,  # type: ignore[arg-type]
        extra_body={"conversation_id": cid},
    )
    history += [
        {"role": "assistant", "content": first.choices[0].message.content or ""},
        {"role": "user", "content": "what did I just tell you?"},
    ]
    stream = await client.chat.completions.create(
        model="mistralai/mistral-7b-instruct",
        messages=history,  # type: ignore[arg-type]
        stream=True,
        extra_body={"conversation_id": cid},
    )
    streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert streamed.startswith("Hello")
    # the client's own messages are the prompt; the conversation stores the exchange
    assert openrouter.requests[-1].json["messages"] == history
    messages = (await http.get(f"/conversations/{cid}/messages", headers=headers)).json()
    assert [(m["role"], m["content"]) for m in messages["items"]] == [
        ("user", SEED),
        ("assistant", GREETING),
        ("user", "what did I just tell you?"),
        ("assistant", streamed),
    ]
    conversation = (await http.get(f"/conversations/{cid}", headers=headers)).json()
    assert conversation["message_count"] == 4
    assert conversation["title"] == "From the SDK"
    with pytest.raises(openai.NotFoundError) as raised:
        await client.chat.completions.create(
            model="mock",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"conversation_id": "6b01b59ab1945f3903016ee2"},
        )
    assert raised.value.code == "conversation_not_found"
