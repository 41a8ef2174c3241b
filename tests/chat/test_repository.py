"""The messages repository against the real test database: the head and tail reads a prompt
is built from, one conversation's messages only, the visible ones only."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from beanie import PydanticObjectId

from simplechat.chat.repository.messages import MessageRepository
from simplechat.documents.messages import MessageDoc
from simplechat.kit.db import open_database
from simplechat.llm.types import Role

OWNER = "6b01b59ab1945f3903016ee2"
CONVERSATION = "6b01b59ab1945f3903016ee3"
OTHER = "6b01b59ab1945f3903016ee4"
T0_MS = 1_700_000_000_000  # in the past: messages added now sort after


@pytest.fixture
async def repo(mongo_uri: str, database_name: str) -> AsyncIterator[MessageRepository]:
    client, _ = await open_database(mongo_uri, database_name, timeout_ms=5000)
    try:
        yield MessageRepository()
    finally:
        await client.close()


async def seed(
    conversation: str, count: int, tokens: int = 10, *, hidden: frozenset[int] = frozenset()
) -> list[str]:
    """`count` messages, alternating user/assistant, one millisecond apart: turn i says "t<i>"."""
    ids, docs = [], []
    for i in range(count):
        oid = PydanticObjectId()
        ids.append(str(oid))
        key = f"{conversation}:{T0_MS + i:013d}:{oid}"
        docs.append(
            {
                "_id": oid,
                "owner_id": OWNER,
                "conversation_id": conversation,
                "role": "user" if i % 2 == 0 else "assistant",
                "text": f"t{i}",
                "tokens": tokens,
                "visible": i not in hidden,
                "model": "mock",
                "kind": "plain",
                "status": "sent" if i % 2 == 0 else "complete",
                "history_key": f"{OWNER}:{T0_MS + i:013d}:{oid}",
                "conversation_key": key,
                "created_at": datetime.fromtimestamp((T0_MS + i) / 1000, UTC),
            }
        )
    await MessageDoc.get_pymongo_collection().insert_many(docs)
    return ids


def texts(messages: list[object]) -> list[str]:
    return [m.content for m in messages]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("count", "budget", "max_messages", "expected"),
    [
        (6, 1000, 100, [f"t{i}" for i in range(6)]),  # short: the tail read reaches the start
        # long: the newest until the budget (one past it), and the first quarter's worth
        (40, 100, 100, ["t0", "t1", "t2", *[f"t{i}" for i in range(30, 40)]]),
        # the message cap: a quarter of it for the head, the tail gives way
        (40, 1000, 8, ["t0", "t1", *[f"t{i}" for i in range(34, 40)]]),
    ],
)
async def test_prompt_history_reads_the_head_and_the_tail(
    repo: MessageRepository, count: int, budget: int, max_messages: int, expected: list[str]
) -> None:
    await seed(CONVERSATION, count)
    await seed(OTHER, 50)  # another conversation is never read

    history = await repo.prompt_history(
        conversation_id=CONVERSATION, token_budget=budget, max_messages=max_messages
    )

    assert texts(history) == expected
    assert [m.role for m in history[:2]] == [Role.USER, Role.ASSISTANT]
    assert all(m.tokens == 10 for m in history)


async def test_prompt_history_skips_hidden_and_excluded_messages(repo: MessageRepository) -> None:
    ids = await seed(CONVERSATION, 6, hidden=frozenset({3}))

    history = await repo.prompt_history(
        conversation_id=CONVERSATION, token_budget=1000, max_messages=100, exclude_id=ids[5]
    )

    assert texts(history) == ["t0", "t1", "t2", "t4"]


async def test_prompt_history_before_a_message(repo: MessageRepository) -> None:
    await seed(CONVERSATION, 40)
    last, _ = await repo.last_exchange(CONVERSATION, 100) or (None, None)
    assert last is not None

    history = await repo.prompt_history(
        conversation_id=CONVERSATION, token_budget=100, max_messages=100, before_key=last.key
    )

    assert last.text == "t38"
    assert texts(history)[-1] == "t37"
    assert texts(history)[:3] == ["t0", "t1", "t2"]


async def test_last_exchange_is_the_last_user_message_and_its_answers(
    repo: MessageRepository,
) -> None:
    assert await repo.last_exchange(CONVERSATION, 100) is None
    ids = await seed(CONVERSATION, 4)  # t3 answers t2
    await repo.hide([ids[3]])
    found = await repo.last_exchange(CONVERSATION, 100)
    assert found is not None
    assert found[0].text == "t2"
    assert found[1] == []  # the hidden answer is not visible any more
    await repo.add_reply(
        owner_id=OWNER,
        conversation_id=CONVERSATION,
        reply_to=ids[2],
        text="again",
        tokens=1,
        model="mock",
        kind="plain",
        usage=None,
    )
    user, answers = await repo.last_exchange(CONVERSATION, 100) or (None, [])
    assert user is not None
    assert user.id == ids[2]
    assert len(answers) == 1


async def test_page_and_delete_one_conversation(repo: MessageRepository) -> None:
    await seed(CONVERSATION, 25, hidden=frozenset({0}))
    await seed(OTHER, 3)

    first, total = await repo.page(CONVERSATION, skip=0, limit=10)
    last, _ = await repo.page(CONVERSATION, skip=20, limit=10)

    assert total == 24
    assert [m.text for m in first] == [f"t{i}" for i in range(1, 11)]
    assert [m.text for m in last] == ["t21", "t22", "t23", "t24"]
    assert first[0].role is Role.ASSISTANT
    assert (first[0].input_tokens, first[0].output_tokens) == (0, 10)
    assert (first[1].input_tokens, first[1].output_tokens) == (10, 0)
    assert await repo.delete_conversation(CONVERSATION) == 25
    assert await repo.page(CONVERSATION, skip=0, limit=10) == ([], 0)
    assert (await repo.page(OTHER, skip=0, limit=10))[1] == 3
