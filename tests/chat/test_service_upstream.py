"""ChatService and its stream against a fake OpenRouter (and the real test database): what is
stored and what is given back, however a turn ends."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from beanie import PydanticObjectId
from cryptography.fernet import Fernet

from simplechat.chat.repository.conversations import ConversationRepository
from simplechat.chat.repository.messages import MessageRepository
from simplechat.chat.service import ChatService
from simplechat.chat.streaming import Delta, Failed, Finished
from simplechat.chat.types import ChatRequest, Persona, Sampling
from simplechat.documents.users import UserDoc
from simplechat.keys.repository import ApiKeyRepository, ProviderKeyRepository
from simplechat.keys.service import KeyService, ProviderKeyService
from simplechat.keys.types import ByokMode
from simplechat.kit.db import open_database
from simplechat.kit.errors import ContextTooLong, InvalidInput, UpstreamUnavailable
from simplechat.limits.repository import LimitRepository
from simplechat.limits.rules import LimitPolicy
from simplechat.limits.service import LimitService
from simplechat.llm.catalog import load_catalog
from simplechat.llm.mock import MockProvider
from simplechat.llm.openrouter import OpenRouterProvider
from simplechat.llm.registry import ProviderRegistry
from simplechat.llm.retry import RetryPolicy
from simplechat.llm.tokens import default_counter
from simplechat.llm.types import ChatMessage, Role
from simplechat.tasks.repository import TaskRepository
from simplechat.tasks.service import TaskService
from simplechat.tasks.types import TaskPolicy
from simplechat.wiring import build_billing
from tests.factories import SEED, RecordedSleeps, make_settings
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

USER = "6b01b59ab1945f3903016ee2"
NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
MODEL = "mistralai/mistral-7b-instruct"
PLAIN = ChatRequest(persona=Persona.PLAIN, text=SEED, model=MODEL)
POLICY = LimitPolicy(daily=20, burst=3, burst_window_seconds=30, timezone=ZoneInfo("UTC"))
Chat = tuple[ChatService, FakeOpenRouter]


@pytest.fixture
async def chat(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> AsyncIterator[tuple[ChatService, FakeOpenRouter]]:
    client, _ = await open_database(mongo_uri, database_name, timeout_ms=5000)
    await UserDoc(id=PydanticObjectId(USER), username="eric", password_hash="x").insert()
    limits = LimitService(repo=LimitRepository(), policy=POLICY)
    retry = RetryPolicy(max_retries=1, backoff_seconds=0, sleep=RecordedSleeps())
    async with FakeOpenRouter() as fake, aiohttp.ClientSession() as session:
        provider = OpenRouterProvider(
            session, base_url=fake.base_url, api_key=TEST_API_KEY, referer="r", title="t",
            retry=retry,
        )  # fmt: skip
        registry = ProviderRegistry(
            load_catalog(None), {"openrouter": provider, "mock": MockProvider()}, MODEL
        )
        service = ChatService(
            messages=MessageRepository(),
            conversations=ConversationRepository(),
            keys=KeyService(repo=ApiKeyRepository(), tz=ZoneInfo("UTC")),
            provider_keys=ProviderKeyService(
                repo=ProviderKeyRepository(),
                cipher=Fernet(Fernet.generate_key()),
                mode=ByokMode.ALLOWED,
            ),
            limits=limits,
            billing=build_billing(make_settings(mongo_uri, database_name, tmp_path))[0],
            tasks=TaskService(repo=TaskRepository(), policy=TaskPolicy()),
            registry=registry,
            counter=default_counter(),
            prompts={Persona.PLAIN: "Be brief.", Persona.ADVANCED: "Be kind."},
            safety_margin=64,
            history_max_messages=100,
            stream_first_chunk_wait=5.0,
            stream_keepalive=5.0,
            clock=lambda: NOW,
        )
        try:
            yield service, fake
        finally:
            await client.close()


async def used_today() -> int:
    """The user's messages counted today, read from the database (as any worker would)."""
    return (await LimitService(repo=LimitRepository(), policy=POLICY).status(USER, NOW)).chat_cnt


class TestSend:
    async def test_stores_the_message_and_the_reply(self, chat: Chat) -> None:
        service, fake = chat
        reply = await service.send(USER, PLAIN)

        assert reply.text
        assert not reply.mock
        sent = fake.requests[-1].json["messages"]
        assert sent[0] == {"role": "system", "content": "Be brief."}
        assert sent[-1] == {"role": "user", "content": SEED}
        history = await service.history(USER, 2)
        assert [(e.role, e.text, e.status) for e in history] == [
            ("user", SEED, "sent"),
            ("assistant", reply.text, "complete"),
        ]
        assert await used_today() == 1

    async def test_the_next_prompt_carries_the_history(self, chat: Chat) -> None:
        service, fake = chat
        first = await service.send(USER, PLAIN)
        await service.send(USER, ChatRequest(persona=Persona.ADVANCED, text="and now?"))

        sent = fake.requests[-1].json["messages"]
        assert [m["content"] for m in sent] == ["Be kind.", SEED, first.text, "and now?"]

    async def test_a_failed_call_keeps_the_message_and_gives_the_quota_back(
        self, chat: Chat
    ) -> None:
        service, fake = chat
        fake.fail_next("status", times=2, status=503)
        with pytest.raises(UpstreamUnavailable):
            await service.send(USER, PLAIN)

        history = await service.history(USER, 5)
        assert [(e.role, e.status) for e in history] == [("user", "unanswered")]
        assert await used_today() == 0

    async def test_context_too_long_is_retried_once_tighter(self, chat: Chat) -> None:
        service, fake = chat
        fake.fail_next("context_length")
        reply = await service.send(USER, PLAIN)

        assert reply.text
        assert len(fake.requests) == 2

    async def test_context_too_long_twice_fails(self, chat: Chat) -> None:
        service, fake = chat
        fake.fail_next("context_length", times=2)
        with pytest.raises(ContextTooLong):
            await service.send(USER, PLAIN)
        assert await used_today() == 0

    async def test_client_messages_are_the_prompt(self, chat: Chat) -> None:
        service, fake = chat
        messages = (ChatMessage(Role.SYSTEM, "Only French."), ChatMessage(Role.USER, SEED))
        request = ChatRequest(
            persona=Persona.OPENAI, messages=messages, model=MODEL, sampling=Sampling(max_tokens=5)
        )
        await service.send(USER, request)

        body = fake.requests[-1].json
        assert body["messages"] == [
            {"role": "system", "content": "Only French."},
            {"role": "user", "content": SEED},
        ]
        assert body["max_tokens"] == 5

    @pytest.mark.parametrize(
        "request_",
        [
            ChatRequest(persona=Persona.PLAIN, text="   "),
            ChatRequest(persona=Persona.OPENAI, messages=(ChatMessage(Role.SYSTEM, "x"),)),
        ],
    )
    async def test_nothing_to_answer_is_invalid_and_costs_nothing(
        self, chat: Chat, request_: ChatRequest
    ) -> None:
        service, fake = chat
        with pytest.raises(InvalidInput):
            await service.send(USER, request_)
        assert not fake.requests
        assert await used_today() == 0


class TestStream:
    async def test_deltas_then_finished_and_the_reply_stored(self, chat: Chat) -> None:
        service, _ = chat
        stream = await service.stream(USER, PLAIN)
        events = [event async for event in stream.events()]

        text = "".join(e.text for e in events if isinstance(e, Delta))
        assert isinstance(events[-1], Finished)
        history = await service.history(USER, 2)
        assert history[-1].text == text
        assert history[-1].status == "complete"

    async def test_an_upstream_cut_keeps_the_partial_reply_and_gives_the_quota_back(
        self, chat: Chat
    ) -> None:
        service, fake = chat
        fake.fail_next("cut_stream", after=2)
        stream = await service.stream(USER, PLAIN)
        events = [event async for event in stream.events()]

        assert isinstance(events[-1], Failed)
        history = await service.history(USER, 2)
        assert history[-1].status == "incomplete"
        assert history[-1].text == "".join(e.text for e in events if isinstance(e, Delta))
        assert await used_today() == 0

    async def test_an_error_before_the_first_chunk_is_raised(self, chat: Chat) -> None:
        service, fake = chat
        fake.fail_next("status", times=2, status=503)
        with pytest.raises(UpstreamUnavailable):
            await service.stream(USER, PLAIN)
        history = await service.history(USER, 5)
        assert [(e.role, e.status) for e in history] == [("user", "unanswered")]


class TestHistory:
    @pytest.mark.parametrize("n", [0, 101])
    async def test_out_of_range(self, chat: Chat, n: int) -> None:
        service, _ = chat
        with pytest.raises(InvalidInput):
            await service.history(USER, n)
