"""ProviderRegistry and build_registry: which provider answers which model."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simplechat.config import Settings
from simplechat.kit.errors import InvalidInput
from simplechat.llm.capacity import GatedProvider
from simplechat.llm.catalog import load_catalog
from simplechat.llm.dashscope import DashScopeProvider
from simplechat.llm.mock import MockProvider
from simplechat.llm.openai_compat import OpenAICompatProvider
from simplechat.llm.openrouter import OpenRouterProvider
from simplechat.llm.registry import ProviderRegistry, build_registry, make_http_session
from simplechat.llm.types import ChatMessage, GenerationParams, ModelKind, Role
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

MESSAGES = [ChatMessage(Role.USER, "hi, my name is Eric")]
PARAMS = GenerationParams(max_tokens=64)
OPENROUTER_MODELS = {
    "mistralai/mistral-7b-instruct",
    "openchat/openchat-7b",
    "openai/text-embedding-3-small",
}
DASHSCOPE_MODELS = {"qwen-turbo", "qwen-plus", "qwen-max", "text-embedding-v4", "text-embedding-v3"}
MOCK_MODELS = {"mock", "mock-embedding"}


def make_settings(**overrides: Any) -> Settings:
    """Settings from code only: no .env file, no provider configured unless asked, and no
    users' own provider keys (TestWithUsersOwnKeys turns them on)."""
    values: dict[str, Any] = {
        "byok": "off",
        "openrouter_api_key": None,
        "dashscope_api_key": None,
        "openai_base_url": None,
        "openai_api_key": None,
        "models_file": None,
        "upstream_max_retries": 0,
    }
    return Settings(_env_file=None, **{**values, **overrides})


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    http = make_http_session(make_settings())
    yield http
    await http.close()


class TestWithoutKeys:
    async def test_every_model_is_answered_by_the_labelled_mock(
        self, session: aiohttp.ClientSession
    ) -> None:
        registry = build_registry(make_settings(), session)

        spec, provider = registry.resolve(None)
        completion = await provider.complete(spec, MESSAGES, PARAMS)

        assert registry.using_mock
        assert spec.name == "mistralai/mistral-7b-instruct"
        assert isinstance(provider, MockProvider)
        assert completion.text.startswith("[mock] ")
        assert "No provider is configured" in completion.text
        assert spec.name in completion.text
        assert registry.resolve("qwen-max")[1] is provider
        assert len(registry.models()) == 10
        assert len(registry.models(ModelKind.CHAT)) == 6

    async def test_unknown_model_lists_the_available_ones(
        self, session: aiohttp.ClientSession
    ) -> None:
        registry = build_registry(make_settings(), session)

        with pytest.raises(InvalidInput) as caught:
            registry.resolve("gpt-9")

        assert caught.value.status_code == 422
        assert "Unknown model 'gpt-9'" in caught.value.message
        assert "qwen-plus" in caught.value.message
        assert "mock" in caught.value.extra["available_models"]


class TestWithUsersOwnKeys:
    async def test_allowed_offers_the_vendors_the_server_has_no_key_for(
        self, session: aiohttp.ClientSession
    ) -> None:
        registry = build_registry(make_settings(byok="allowed", dashscope_api_key="sk-ds"), session)

        _, provider = registry.resolve("mistralai/mistral-7b-instruct")

        assert isinstance(provider, GatedProvider)
        assert isinstance(provider.inner, OpenRouterProvider)
        assert not registry.has_server_key("openrouter")
        assert registry.has_server_key("dashscope")
        names = {m.name for m in registry.models()}
        assert names == OPENROUTER_MODELS | DASHSCOPE_MODELS | MOCK_MODELS
        assert registry.default_model == "qwen-turbo"  # one the server's own key answers

    async def test_allowed_without_any_server_key_is_still_the_mock(
        self, session: aiohttp.ClientSession
    ) -> None:
        registry = build_registry(make_settings(byok="allowed"), session)

        assert registry.using_mock
        assert isinstance(registry.resolve("qwen-plus")[1], MockProvider)
        assert registry.has_server_key("dashscope")

    async def test_required_without_any_server_key_needs_no_placeholder(
        self, session: aiohttp.ClientSession
    ) -> None:
        registry = build_registry(make_settings(byok="required"), session)

        spec, provider = registry.resolve(None)

        assert not registry.using_mock
        assert spec.name == "mistralai/mistral-7b-instruct"
        assert isinstance(provider, GatedProvider)
        assert isinstance(registry.resolve("qwen-plus")[1], GatedProvider)
        assert not registry.has_server_key("dashscope")
        assert isinstance(registry.resolve("mock")[1], MockProvider)


class TestWithKeys:
    async def test_openrouter_only(self, session: aiohttp.ClientSession) -> None:
        registry = build_registry(make_settings(openrouter_api_key="sk-or"), session)

        spec, provider = registry.resolve(None)

        assert not registry.using_mock
        assert spec.name == "mistralai/mistral-7b-instruct"
        assert isinstance(provider, GatedProvider)
        assert isinstance(provider.inner, OpenRouterProvider)
        assert isinstance(registry.resolve("mock")[1], MockProvider)
        assert {m.name for m in registry.models()} == OPENROUTER_MODELS | MOCK_MODELS

    async def test_unconfigured_provider_is_refused(self, session: aiohttp.ClientSession) -> None:
        registry = build_registry(make_settings(openrouter_api_key="sk-or"), session)

        with pytest.raises(InvalidInput) as caught:
            registry.resolve("qwen-plus")

        assert "needs the dashscope provider, which is not configured" in caught.value.message
        assert "qwen-plus" not in caught.value.extra["available_models"]

    async def test_mock_model_says_it_is_the_mock(self, session: aiohttp.ClientSession) -> None:
        registry = build_registry(make_settings(openrouter_api_key="sk-or"), session)

        spec, provider = registry.resolve("mock")
        completion = await provider.complete(spec, MESSAGES, PARAMS)

        assert completion.text.startswith("[mock] ")
        assert "built-in mock model" in completion.text

    async def test_default_falls_back_to_a_configured_provider(
        self, session: aiohttp.ClientSession
    ) -> None:
        registry = build_registry(make_settings(dashscope_api_key="sk-ds"), session)

        spec, provider = registry.resolve(None)

        assert spec.name == registry.default_model == "qwen-turbo"
        assert isinstance(provider, GatedProvider)
        assert isinstance(provider.inner, DashScopeProvider)
        assert {m.name for m in registry.models()} == DASHSCOPE_MODELS | MOCK_MODELS

    async def test_openai_compatible_server_from_models_file(
        self, session: aiohttp.ClientSession, tmp_path: Path
    ) -> None:
        models = tmp_path / "models.json"
        local = {
            "name": "local",
            "provider": "openai",
            "upstream_id": "llama3",
            "context_window": 8192,
            "max_output_tokens": 512,
        }
        models.write_text(json.dumps([local]))
        settings = make_settings(openai_base_url="http://127.0.0.1:1/v1", models_file=models)

        spec, provider = build_registry(settings, session).resolve("local")

        assert spec.upstream_id == "llama3"
        assert isinstance(provider, GatedProvider)
        assert isinstance(provider.inner, OpenAICompatProvider)
        assert provider.name == "openai"

    async def test_bad_default_model_fails_at_startup(self, session: aiohttp.ClientSession) -> None:
        with pytest.raises(ValueError, match="default model 'nope'"):
            build_registry(make_settings(default_model="nope"), session)


async def test_end_to_end_through_the_fake_openrouter(
    openrouter_fake: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    settings = make_settings(
        openrouter_api_key=TEST_API_KEY,
        openrouter_base_url=openrouter_fake.base_url,
        openrouter_referer="https://chat.example",
        openrouter_title="Example Chat",
    )
    registry = build_registry(settings, session)

    spec, provider = registry.resolve("openchat/openchat-7b")
    completion = await provider.complete(spec, MESSAGES, PARAMS)
    await registry.aclose()

    assert completion.text == "Hello Eric! How can I help you today?"
    [request] = openrouter_fake.requests
    assert request.json["model"] == "openchat/openchat-7b"
    assert request.json["max_tokens"] == 64
    assert request.header("HTTP-Referer") == "https://chat.example"
    assert request.header("X-OpenRouter-Title") == "Example Chat"


async def test_http_session_has_explicit_timeouts_and_no_hidden_cap() -> None:
    settings = make_settings(connect_timeout_seconds=3.0, read_timeout_seconds=45.0)
    session = make_http_session(settings)
    try:
        assert session.timeout.sock_connect == 3.0
        assert session.timeout.sock_read == 45.0
        assert session.timeout.total is None
        assert isinstance(session.connector, aiohttp.TCPConnector)
        # no pool cap: the registry's gate bounds (and refuses) what is in flight
        assert session.connector.limit == 0
        assert session.connector.limit_per_host == 0
    finally:
        await session.close()


def test_registry_requires_the_default_in_the_catalog() -> None:
    with pytest.raises(ValueError, match="not in the model catalog"):
        ProviderRegistry({}, {"mock": MockProvider()}, "anything")


async def test_models_are_resolved_by_kind(session: aiohttp.ClientSession) -> None:
    registry = build_registry(make_settings(), session)

    spec, provider = registry.resolve("mock-embedding", ModelKind.EMBEDDING)
    assert spec.kind is ModelKind.EMBEDDING
    assert provider.name == "mock"
    with pytest.raises(InvalidInput, match="'mock-embedding' is an embedding model, not a chat"):
        registry.resolve("mock-embedding")
    with pytest.raises(InvalidInput, match="'mock' is a chat model, not an embedding") as caught:
        registry.resolve("mock", ModelKind.EMBEDDING)
    assert "mock" not in caught.value.extra["available_models"]
    assert "mock-embedding" in caught.value.extra["available_models"]
    assert all(m.kind is ModelKind.CHAT for m in registry.models(ModelKind.CHAT))


def test_the_default_model_must_chat() -> None:
    catalog = {spec.name: spec for spec in load_catalog(None).values()}
    with pytest.raises(ValueError, match="not a chat model"):
        ProviderRegistry(catalog, {"mock": MockProvider()}, "mock-embedding")
