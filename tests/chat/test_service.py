"""The chat services against the real test database, called directly: the default
conversation created once by parallel first messages, running totals that add up, failures
counted, a conversation deleted while it is being answered, titles made once."""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from beanie import PydanticObjectId
from cryptography.fernet import Fernet

from simplechat.chat.types import ChatRequest, MessageStatus, Persona
from simplechat.config import Settings
from simplechat.documents.messages import MessageDoc
from simplechat.documents.users import UserDoc
from simplechat.kit.db import open_database
from simplechat.kit.errors import UpstreamUnavailable
from simplechat.kit.pagination import PageParams
from simplechat.llm.catalog import load_catalog
from simplechat.llm.media_engines import build_media_engines
from simplechat.llm.mock import MockProvider
from simplechat.llm.registry import ProviderRegistry
from simplechat.llm.tokens import default_counter
from simplechat.llm.types import ChatMessage, Completion, GenerationParams, ModelSpec, StreamChunk
from simplechat.wiring import Services, build_services
from tests.factories import make_settings

USER = "6b01b59ab1945f3903016ee2"
ALL = PageParams(page=1, page_size=100)


class FailingProvider:
    name = "mock"

    async def complete(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Completion:
        raise UpstreamUnavailable("The upstream is down.")

    def stream(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[StreamChunk, None]:
        raise UpstreamUnavailable("The upstream is down.")

    async def aclose(self) -> None:
        pass


@dataclass
class World:
    services: Services
    settings: Settings
    http: aiohttp.ClientSession

    async def services_with(self, provider: Any) -> Services:
        registry = ProviderRegistry(load_catalog(None), {"mock": provider}, "mock")
        return build_services(
            self.settings,
            media_engines=build_media_engines(self.settings, self.http),
            registry=registry,
            counter=default_counter(),
            jwt_secret="x" * 40,
            secrets_key=Fernet.generate_key().decode(),
            database_ping=_ping,
            http=self.http,
        )


async def _ping() -> bool:
    return True


@pytest.fixture
async def world(mongo_uri: str, database_name: str, tmp_path: Path) -> AsyncIterator[World]:
    client, _ = await open_database(mongo_uri, database_name, timeout_ms=5000)
    settings = make_settings(
        mongo_uri, database_name, tmp_path, burst_limit=100, burst_window_seconds=1
    )
    await UserDoc(id=PydanticObjectId(USER), username="eric", password_hash="x").insert()
    http = aiohttp.ClientSession()
    world = World(services=None, settings=settings, http=http)  # type: ignore[arg-type]
    world.services = await world.services_with(MockProvider())
    await world.services.presets.seed_builtins()
    try:
        yield world
    finally:
        await http.close()
        await client.close()


def ask(text: str, conversation_id: str | None = None) -> ChatRequest:
    return ChatRequest(persona=Persona.PLAIN, text=text, conversation_id=conversation_id)


async def test_parallel_first_messages_make_one_default_conversation(world: World) -> None:
    chat, conversations = world.services.chat, world.services.conversations

    await asyncio.gather(*(chat.send(USER, ask(f"hello {i}")) for i in range(10)))

    found = await conversations.list_page(USER, ALL)
    items, total = found.items, found.total
    assert total == 1
    (default,) = items
    assert default.id == USER
    assert default.message_count == 20
    assert default.title.startswith("hello ")


async def test_totals_add_up_through_answers_regenerations_and_failures(world: World) -> None:
    chat, conversations = world.services.chat, world.services.conversations
    conversation = await conversations.create(USER)
    for text in ("one", "two words", "three little words"):
        await chat.send(USER, ask(text, conversation.id))
    await chat.regenerate(USER, conversation.id)
    failing = await world.services_with(FailingProvider())
    with pytest.raises(UpstreamUnavailable):
        await failing.chat.send(USER, ask("this one fails", conversation.id))

    read = await conversations.read(USER, conversation.id)
    stored = await MessageDoc.find({"conversation_id": conversation.id}).to_list()
    shown = read.messages.items

    assert read.conversation.message_count == len(stored) == 8
    assert len(shown) == read.messages.total == 7  # one answer replaced by the regeneration
    assert shown[-1].status is MessageStatus.UNANSWERED
    assert read.conversation.input_tokens == sum(m.tokens for m in stored if m.role == "user")
    assert read.conversation.output_tokens == sum(
        m.usage.completion_tokens for m in stored if m.usage is not None
    )
    assert read.conversation.prompt_tokens == sum(
        m.usage.prompt_tokens for m in stored if m.usage is not None
    )
    assert read.conversation.title == "one"  # made by the first message, only by it
    status = await world.services.limits.status(USER, datetime.now(UTC))
    assert status.chat_cnt == 4  # three messages and the regeneration; the failure gave back


async def test_a_conversation_deleted_while_answered_takes_the_answer_with_it(
    world: World,
) -> None:
    slow = await world.services_with(MockProvider(delay=0.02))
    conversation = await slow.conversations.create(USER, title="short-lived")
    stream = await slow.chat.stream(USER, ask("tell me a long story", conversation.id))
    events = stream.events()
    await anext(events)  # the answer has begun

    assert await slow.conversations.delete(USER, conversation.id) == 1  # the question only
    async for _ in events:
        pass

    assert await MessageDoc.find({"conversation_id": conversation.id}).to_list() == []
    assert (await slow.conversations.list_page(USER, ALL)).total == 0


async def test_regenerating_with_nothing_answered_leaves_everything_as_it_was(
    world: World,
) -> None:
    chat, conversations = world.services.chat, world.services.conversations
    conversation = await conversations.create(USER)
    await chat.send(USER, ask("hello", conversation.id))
    before = await conversations.read(USER, conversation.id)
    failing = await world.services_with(FailingProvider())

    with pytest.raises(UpstreamUnavailable):
        await failing.chat.regenerate(USER, conversation.id)

    after = await conversations.read(USER, conversation.id)
    assert [m.id for m in after.messages.items] == [m.id for m in before.messages.items]
    assert after.conversation.message_count == 2
    assert all(m.visible for m in after.messages.items)
