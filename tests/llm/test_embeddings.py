"""Embeddings on the provider layer: OpenRouter's and an OpenAI-compatible server's
`/embeddings`, DashScope's text-embedding through the real SDK, the mock, the gate."""

import base64
import math
import struct

import aiohttp
import pytest

from simplechat.kit.errors import UpstreamRejected
from simplechat.llm.capacity import GatedProvider, UpstreamGate
from simplechat.llm.dashscope import EMBEDDING_BATCH, DashScopeProvider
from simplechat.llm.mock import MockProvider
from simplechat.llm.openai_compat import OpenAICompatProvider
from simplechat.llm.openai_wire import parse_embeddings
from simplechat.llm.openrouter import OpenRouterProvider
from simplechat.llm.retry import RetryPolicy
from simplechat.llm.types import EMBEDDING_PARAMETERS, EmbeddingParams, ModelKind, ModelSpec, Usage
from tests.fakes.answers import embedding
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.openai_compat import FakeOpenAICompat
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

FAST_RETRY = RetryPolicy(max_retries=1, backoff_seconds=0.01, max_retry_after_seconds=1.0)
TEXTS = ["the cat sat on the mat", "a dog in the fog"]


def embedder(provider: str, upstream_id: str, dimensions: int) -> ModelSpec:
    return ModelSpec(
        "e", provider, upstream_id, 8192, 0, kind=ModelKind.EMBEDDING,
        supported_parameters=EMBEDDING_PARAMETERS, dimensions=dimensions,
    )  # fmt: skip


async def test_openrouter_embeds_in_openai_shape(
    openrouter_fake: FakeOpenRouter, http_session: aiohttp.ClientSession
) -> None:
    provider = OpenRouterProvider(
        http_session, base_url=openrouter_fake.base_url, api_key=TEST_API_KEY, referer="r",
        title="t", retry=FAST_RETRY,
    )  # fmt: skip
    model = embedder("openrouter", "openai/text-embedding-3-small", 1536)

    result = await provider.embed(model, TEXTS, EmbeddingParams(dimensions=64, user="u1"))

    assert [len(v) for v in result.vectors] == [64, 64]
    assert list(result.vectors[0]) == pytest.approx(embedding(TEXTS[0], 64))
    assert result.usage == Usage(11, 0)
    assert result.model == "openai/text-embedding-3-small"
    [request] = openrouter_fake.requests
    assert request.path == "/api/v1/embeddings"
    assert request.json == {
        "model": "openai/text-embedding-3-small",
        "input": TEXTS,
        "encoding_format": "float",
        "dimensions": 64,
        "user": "u1",
    }


async def test_an_openai_compatible_server_embeds(http_session: aiohttp.ClientSession) -> None:
    async with FakeOpenAICompat() as fake:
        provider = OpenAICompatProvider("openai", http_session, fake.base_url, TEST_API_KEY)
        result = await provider.embed(embedder("openai", "nomic", 768), ["one"], EmbeddingParams())

    assert len(result.vectors[0]) == 1536  # the server's own size: none asked
    assert fake.requests[0].path == "/v1/embeddings"
    assert "dimensions" not in fake.requests[0].json


async def test_a_refused_key_is_the_servers_problem(
    openrouter_fake: FakeOpenRouter, http_session: aiohttp.ClientSession
) -> None:
    provider = OpenRouterProvider(
        http_session, base_url=openrouter_fake.base_url, api_key="sk-wrong", referer="r",
        title="t", retry=FAST_RETRY,
    )  # fmt: skip

    with pytest.raises(UpstreamRejected, match="API key was refused"):
        await provider.embed(embedder("openrouter", "x", 8), ["a"], EmbeddingParams())


async def test_dashscope_embeds_through_the_sdk_in_batches(
    dashscope_fake: FakeDashScope, http_session: aiohttp.ClientSession
) -> None:
    provider = DashScopeProvider(
        http_session, api_key=TEST_API_KEY, base_url=dashscope_fake.base_url, retry=FAST_RETRY,
        request_timeout=2.0,
    )  # fmt: skip
    texts = [f"text number {i}" for i in range(2 * EMBEDDING_BATCH + 3)]
    model = embedder("dashscope", "text-embedding-v4", 1024)

    result = await provider.embed(model, texts, EmbeddingParams(dimensions=256))

    assert len(result.vectors) == len(texts)
    assert list(result.vectors[12]) == pytest.approx(embedding(texts[12], 256))
    assert result.usage == Usage(3 * len(texts), 0)
    requests = dashscope_fake.requests
    assert [len(r.json["input"]["texts"]) for r in requests] == [10, 10, 3]
    assert requests[0].path == "/api/v1/services/embeddings/text-embedding/text-embedding"
    assert requests[0].json["model"] == "text-embedding-v4"
    assert requests[0].json["parameters"] == {"dimension": 256}
    assert requests[0].header("Authorization") == f"Bearer {TEST_API_KEY}"


async def test_dashscope_embedding_errors_are_mapped(
    dashscope_fake: FakeDashScope, http_session: aiohttp.ClientSession
) -> None:
    provider = DashScopeProvider(
        http_session, api_key="wrong", base_url=dashscope_fake.base_url, retry=FAST_RETRY
    )

    with pytest.raises(UpstreamRejected, match="API key was refused"):
        await provider.embed(
            embedder("dashscope", "text-embedding-v3", 8), ["a"], EmbeddingParams()
        )


async def test_the_mock_embeds_deterministically() -> None:
    model = embedder("mock", "mock-embedding", 256)
    mock = MockProvider()

    first = await mock.embed(
        model, ["cats and dogs", "cats and dogs", "stock prices"], EmbeddingParams()
    )
    small = await mock.embed(model, ["cats"], EmbeddingParams(dimensions=16))

    a, b, c = first.vectors
    assert a == b
    assert len(a) == 256
    assert math.isclose(sum(x * x for x in a), 1.0)
    assert sum(x * y for x, y in zip(a, c, strict=True)) < 0.5
    assert len(small.vectors[0]) == 16
    assert first.usage == Usage(8, 0)


async def test_an_embedding_holds_a_slot_of_the_gate() -> None:
    gate = UpstreamGate(1)
    gated = GatedProvider(MockProvider(), gate)

    await gated.embed(embedder("mock", "m", 8), ["x"], EmbeddingParams())

    assert gate.in_flight == 0


def test_vectors_sent_as_base64_are_decoded() -> None:
    vector = [0.5, -1.25, 3.0]
    packed = base64.b64encode(struct.pack("<3f", *vector)).decode()
    body = {"data": [{"index": 1, "embedding": packed}, {"index": 0, "embedding": [1, 2, 3]}]}

    result = parse_embeddings(body, embedder("openai", "x", 3), 2)

    assert result is not None
    assert result.vectors == ((1.0, 2.0, 3.0), (0.5, -1.25, 3.0))
    assert result.usage is None  # the server said nothing: the caller estimates


@pytest.mark.parametrize(
    "data",
    [
        [{"index": 0, "embedding": [1.0]}],  # one missing
        [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [2.0]}],  # twice
        [{"index": 0, "embedding": "not base64!"}, {"index": 1, "embedding": [1.0]}],
        [{"index": 0, "embedding": [1.0]}, {"index": 5, "embedding": [1.0]}],
    ],
)
def test_not_one_vector_per_input_is_unreadable(data: list[dict[str, object]]) -> None:
    assert parse_embeddings({"data": data}, embedder("openai", "x", 1), 2) is None
