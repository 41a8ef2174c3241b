"""Admitter against the test database: another user's conversation is not found, and a
refusal at admission gives back whatever the request had already taken."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from beanie import PydanticObjectId
from cryptography.fernet import Fernet

from simplechat.chat.admission import Admitter
from simplechat.chat.errors import ConversationNotFound
from simplechat.chat.repository.conversations import ConversationRepository
from simplechat.chat.types import Sampling
from simplechat.documents.users import UserDoc
from simplechat.keys.errors import ProviderKeyMissing
from simplechat.keys.repository import ApiKeyRepository, ProviderKeyRepository
from simplechat.keys.service import KeyService, ProviderKeyService
from simplechat.keys.types import ByokMode, KeyCaps
from simplechat.kit.db import open_database
from simplechat.kit.errors import RateLimited
from simplechat.limits.repository import LimitRepository
from simplechat.limits.rules import LimitPolicy
from simplechat.limits.service import LimitService
from simplechat.llm.base import Provider
from simplechat.llm.catalog import load_catalog
from simplechat.llm.mock import MockProvider
from simplechat.llm.openrouter import OpenRouterProvider
from simplechat.llm.registry import ProviderRegistry

USER = "6b01b59ab1945f3903016ee2"
NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
MODEL = "mistralai/mistral-7b-instruct"


class Parts:
    def __init__(self, mode: ByokMode) -> None:
        self.conversations = ConversationRepository()
        self.limits = LimitService(
            repo=LimitRepository(),
            policy=LimitPolicy(daily=1, burst=3, burst_window_seconds=30, timezone=ZoneInfo("UTC")),
        )
        self.keys = KeyService(repo=ApiKeyRepository(), tz=ZoneInfo("UTC"), clock=lambda: NOW)
        self.provider_keys = ProviderKeyService(
            repo=ProviderKeyRepository(), cipher=Fernet(Fernet.generate_key()), mode=mode
        )

    def admitter(self, registry: ProviderRegistry) -> Admitter:
        return Admitter(
            conversations=self.conversations,
            limits=self.limits,
            keys=self.keys,
            provider_keys=self.provider_keys,
            registry=registry,
            clock=lambda: NOW,
        )


@pytest.fixture
async def registry(mongo_uri: str, database_name: str) -> AsyncIterator[ProviderRegistry]:
    client, _ = await open_database(mongo_uri, database_name, timeout_ms=5000)
    await UserDoc(id=PydanticObjectId(USER), username="eric", password_hash="x").insert()
    async with aiohttp.ClientSession() as session:
        # Never called: admission happens before the provider.
        openrouter = OpenRouterProvider(
            session, base_url="http://127.0.0.1:9", api_key="k", referer="r", title="t"
        )
        providers: dict[str, Provider] = {"openrouter": openrouter, "mock": MockProvider()}
        try:
            yield ProviderRegistry(load_catalog(None), providers, MODEL)
        finally:
            await client.close()


async def test_another_users_conversation_is_not_found(registry: ProviderRegistry) -> None:
    parts = Parts(ByokMode.ALLOWED)
    theirs = await parts.conversations.create("someone-else", {"title": "t"})
    with pytest.raises(ConversationNotFound):
        await parts.admitter(registry).setup(USER, theirs.id, None, Sampling(), [])


async def test_a_limit_refusal_gives_back_the_api_keys_count(registry: ProviderRegistry) -> None:
    parts = Parts(ByokMode.ALLOWED)
    admitter = parts.admitter(registry)
    created = await parts.keys.create(USER, "k", KeyCaps())
    grant = await parts.keys.grant(created.secret)
    setup = await admitter.setup(USER, None, None, Sampling(), [])
    await admitter.admit(USER, setup, grant)
    with pytest.raises(RateLimited):  # the user's one message a day is spent
        await admitter.admit(USER, setup, grant)
    assert (await parts.keys.get(USER, created.key.id)).uses == 1


async def test_a_missing_own_key_gives_back_the_quota(registry: ProviderRegistry) -> None:
    parts = Parts(ByokMode.REQUIRED)
    admitter = parts.admitter(registry)
    setup = await admitter.setup(USER, None, None, Sampling(), [])
    with pytest.raises(ProviderKeyMissing):
        await admitter.admit(USER, setup, None)
    assert (await parts.limits.status(USER, NOW)).chat_cnt == 0
    parts.provider_keys.mode = ByokMode.ALLOWED  # the server's key will do: admitted
    admitted = await admitter.admit(USER, setup, None)
    assert admitted.own_key is None
    assert (await parts.limits.status(USER, NOW)).chat_cnt == 1
