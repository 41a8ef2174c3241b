"""/v1/chat/completions takes every parameter OpenAI clients send: passed to the model, or a
400 `unsupported_parameter` naming it (dropped with `drop_params`), driven by the openai SDK.

Tools, `n` and logprobs are parsed and mapped (tests/chat/test_openai_schemas.py) but reach
the model only once the chat path stores and answers tool calls (issue 25, phase B)."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest

from simplechat.config import Settings
from tests.chat.test_openai_router import GREETING, sdk
from tests.chat.test_router import SEED, upstream_settings
from tests.factories import app_client
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

MISTRAL = "mistralai/mistral-7b-instruct"
OPENCHAT = "openchat/openchat-7b"  # no tools, no response_format (catalog.OPENCHAT_7B)


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


async def test_the_other_parameters_reach_the_model(
    http: httpx.AsyncClient, openrouter: FakeOpenRouter
) -> None:
    client = await sdk(http)

    completion = await client.chat.completions.create(
        model=MISTRAL,
        messages=[{"role": "user", "content": SEED}],
        stop=["END", "STOP"],
        seed=11,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        user="end-user-7",
        response_format={"type": "json_object"},
    )

    sent = openrouter.requests[-1].json
    assert sent["stop"] == ["END", "STOP"]
    assert sent["seed"] == 11
    assert sent["presence_penalty"] == 0.5
    assert sent["frequency_penalty"] == -0.5
    assert sent["user"] == "end-user-7"
    assert sent["response_format"] == {"type": "json_object"}
    assert completion.choices[0].message.content == '{"answer": "' + GREETING + '"}'


async def test_reasoning_goes_as_openrouters_reasoning(
    settings: Settings, openrouter: FakeOpenRouter, tmp_path: Path
) -> None:
    models = tmp_path / "models.json"
    r1 = {"name": "deepseek/deepseek-r1", "provider": "openrouter",
          "upstream_id": "deepseek/deepseek-r1", "context_window": 65536,
          "max_output_tokens": 8192}  # fmt: skip
    models.write_text(json.dumps([r1]))
    configured = upstream_settings(
        settings,
        openrouter_api_key=TEST_API_KEY,
        openrouter_base_url=openrouter.base_url,
        models_file=models,
    )
    async with app_client(configured) as http:
        client = await sdk(http)
        await client.chat.completions.create(
            model="deepseek/deepseek-r1",
            messages=[{"role": "user", "content": SEED}],
            reasoning_effort="low",
        )
        await client.chat.completions.create(
            model="deepseek/deepseek-r1",
            messages=[{"role": "user", "content": SEED}],
            extra_body={"reasoning": {"max_tokens": 200, "exclude": True}},
        )
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(
                model=MISTRAL, messages=[{"role": "user", "content": SEED}], reasoning_effort="low"
            )

    first, second = (r.json for r in openrouter.requests)
    assert first["reasoning"] == {"effort": "low"}
    assert "reasoning_effort" not in first
    assert second["reasoning"] == {"max_tokens": 200, "exclude": True}
    assert raised.value.param == "reasoning"  # Mistral 7B does not think


async def test_a_parameter_the_model_cannot_take_is_named(
    http: httpx.AsyncClient, openrouter: FakeOpenRouter
) -> None:
    client = await sdk(http)

    with pytest.raises(openai.BadRequestError) as raised:
        await client.chat.completions.create(
            model=OPENCHAT,
            messages=[{"role": "user", "content": SEED}],
            response_format={"type": "json_object"},
        )

    assert raised.value.code == "unsupported_parameter"
    assert raised.value.param == "response_format"
    assert "'openchat/openchat-7b' does not support the parameter 'response_format'" in str(
        raised.value.message
    )
    assert openrouter.requests == []  # refused before anything was counted or sent
    status = await http.get("/user/status", headers={"Authorization": f"Bearer {client.api_key}"})
    assert status.json()["chat_cnt"] == 0


async def test_drop_params_drops_it_instead(
    http: httpx.AsyncClient, openrouter: FakeOpenRouter
) -> None:
    client = await sdk(http)

    completion = await client.chat.completions.create(
        model=OPENCHAT,
        messages=[{"role": "user", "content": SEED}],
        response_format={"type": "json_object"},
        seed=5,
        extra_body={"drop_params": True},
    )

    assert completion.choices[0].message.content == GREETING
    sent = openrouter.requests[-1].json
    assert "response_format" not in sent
    assert sent["seed"] == 5  # what it takes still goes


async def test_the_server_can_drop_for_every_client(
    settings: Settings, openrouter: FakeOpenRouter
) -> None:
    configured = upstream_settings(
        settings,
        openrouter_api_key=TEST_API_KEY,
        openrouter_base_url=openrouter.base_url,
        drop_unsupported_params=True,
    )
    async with app_client(configured) as http:
        client = await sdk(http)
        await client.chat.completions.create(
            model=OPENCHAT,
            messages=[{"role": "user", "content": SEED}],
            response_format={"type": "json_object"},
        )

    assert "response_format" not in openrouter.requests[-1].json


async def test_tool_messages_are_refused_until_the_chat_path_answers_tools(
    http: httpx.AsyncClient,
) -> None:
    client = await sdk(http)

    with pytest.raises(openai.BadRequestError) as raised:
        await client.chat.completions.create(
            model=MISTRAL,
            messages=[
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            ],
        )

    assert raised.value.code == "unsupported_parameter"
    assert raised.value.param == "messages"


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"n": 9}, "n"),
        ({"top_logprobs": 2}, "top_logprobs needs logprobs"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "at most 4 stop sequences"),
        ({"presence_penalty": 3}, "presence_penalty"),
        ({"logit_bias": {"1": 200}}, "logit_bias"),
        ({"reasoning_effort": "max"}, "reasoning_effort"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools"),
        (
            {
                "tools": [{"type": "function", "function": {"name": "a"}}],
                "tool_choice": {"type": "function", "function": {"name": "b"}},
            },
            "tool_choice names 'b'",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, "needs the tool_call_id"),
        ({"messages": [{"role": "user", "content": "x", "tool_call_id": "c"}]}, "only a tool"),
    ],
)
async def test_malformed_parameters_are_422(
    http: httpx.AsyncClient, extra: dict[str, object], where: str
) -> None:
    client = await sdk(http)
    body = {"model": "mock", "messages": [{"role": "user", "content": "hi"}], **extra}

    response = await http.post(
        "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {client.api_key}"}
    )

    assert response.status_code == 422
    assert where in response.json()["error"]["message"]


async def test_models_say_what_they_can_do(http: httpx.AsyncClient) -> None:
    client = await sdk(http)

    models = {m.id: m.model_dump() async for m in client.models.list()}

    mistral = models[MISTRAL]
    assert mistral["kind"] == "chat"
    assert mistral["context_length"] == mistral["context_window"] == 32768
    assert mistral["capabilities"]["tools"] is True
    assert "tools" in mistral["supported_parameters"]
    assert models[OPENCHAT]["capabilities"]["tools"] is False
    embedder = models["openai/text-embedding-3-small"]
    assert embedder["kind"] == "embedding"
    assert embedder["dimensions"] == 1536
    assert embedder["supported_parameters"] == ["dimensions"]
