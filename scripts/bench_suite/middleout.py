"""Middle-out: the time to build a prompt for users whose stored history is 10k, 100k and 1M
tokens, into an 8k and a 128k budget.

Two measurements:
- `pure`: `middle_out` alone on the whole synthetic history (the worst case: a caller that
  passed everything), to show trimming cost and that stored messages are never re-tokenized;
- `db`: what the chat path does: `MessageRepository.prompt_history` loads only as much of the
  conversation as can fit (its newest messages until the budget, and its first ones until a
  quarter of it: two bounded range reads, at most `history_max_entries` messages) from a seeded
  embedded database, then `middle_out` trims it.
"""

import asyncio
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import PydanticObjectId

from bench_suite.procstat import cpu_seconds
from simplechat.chat.repository.message_docs import history_key
from simplechat.chat.repository.messages import MessageRepository
from simplechat.documents.messages import MessageDoc, MessageStatus
from simplechat.kit.db import open_database
from simplechat.llm.tokens import TokenCounter, default_counter
from simplechat.llm.truncation import middle_out
from simplechat.llm.types import ChatMessage, Role

HISTORY_TOKENS = (10_000, 100_000, 1_000_000)
BUDGETS = (8_192, 131_072)
MAX_MESSAGES = 100  # the default SIMPLECHAT_HISTORY_MAX_ENTRIES
# Turn sizes in tokens, cycled user/assistant: short questions, answers of every length.
TURN_TOKENS = (60, 400, 150, 1_200, 30, 2_500)
VOCABULARY = (" alpha", " beta", " gamma", " delta", " river", " stone", " cloud", " green")
SYSTEM_PROMPT = "You are a helpful assistant. Answer clearly and concisely."
NEW_MESSAGE = "And what do you think about all of that?"
SEED_BATCH = 500


class CountingCounter:
    """A TokenCounter that remembers how much text it was asked to tokenize."""

    def __init__(self, inner: TokenCounter) -> None:
        self.inner = inner
        self.calls = 0
        self.chars = 0

    def _seen(self, text: str) -> None:
        self.calls += 1
        self.chars += len(text)

    def count(self, text: str) -> int:
        self._seen(text)
        return self.inner.count(text)

    def head(self, text: str, n: int) -> str:
        self._seen(text)
        return self.inner.head(text, n)

    def tail(self, text: str, n: int) -> str:
        self._seen(text)
        return self.inner.tail(text, n)


@dataclass(frozen=True)
class Turn:
    role: Role
    text: str
    tokens: int


def make_turns(counter: TokenCounter) -> list[Turn]:
    """One text per turn size (counted once), alternating user and assistant."""
    turns = []
    for i, size in enumerate(TURN_TOKENS):
        text = "".join(VOCABULARY[(j * 7 + i) % len(VOCABULARY)] for j in range(size)).strip()
        role = Role.USER if i % 2 == 0 else Role.ASSISTANT
        turns.append(Turn(role, text, counter.count(text)))
    return turns


def synthetic_history(turns: list[Turn], total_tokens: int) -> list[Turn]:
    history: list[Turn] = []
    tokens = 0
    while tokens < total_tokens:
        turn = turns[len(history) % len(turns)]
        history.append(turn)
        tokens += turn.tokens
    return history


def _ms(seconds: float) -> float:
    return seconds * 1000


def _prompt(history: list[ChatMessage]) -> list[ChatMessage]:
    return [ChatMessage(Role.SYSTEM, SYSTEM_PROMPT), *history, ChatMessage(Role.USER, NEW_MESSAGE)]


def bench_pure(histories: dict[int, list[Turn]], repeats: int) -> list[dict[str, Any]]:
    rows = []
    for total, turns in histories.items():
        messages = _prompt([ChatMessage(t.role, t.text, t.tokens) for t in turns])
        for budget in BUDGETS:
            times = []
            counter = CountingCounter(default_counter())
            for _ in range(repeats):
                counter.calls = counter.chars = 0
                started = time.perf_counter()
                result = middle_out(messages, budget, counter)
                times.append(time.perf_counter() - started)
            rows.append(
                {
                    "history_tokens": total,
                    "history_messages": len(turns),
                    "budget": budget,
                    "ms": _ms(statistics.median(times)),
                    "kept_messages": len(result.messages),
                    "prompt_tokens": result.prompt_tokens,
                    "tokenizer_calls": counter.calls,
                    "tokenized_chars": counter.chars,
                }
            )
    return rows


def _stored_status(role: Role) -> MessageStatus:
    """The status of an answered user message or a whole reply, as the chat path stores them."""
    if role == Role.ASSISTANT:
        return MessageStatus.COMPLETE
    answered = next(n for n in ("ANSWERED", "SENT") if n in MessageStatus.__members__)
    return MessageStatus[answered]


async def _seed(histories: dict[int, list[Turn]]) -> dict[int, str]:
    owners = {}
    start = datetime.now(UTC) - timedelta(days=30)
    for total, turns in histories.items():
        owner = f"middleout-{total}"
        owners[total] = owner
        await MessageDoc.get_pymongo_collection().delete_many({"owner_id": owner})
        docs = []
        for i, turn in enumerate(turns):
            message_id = MessageRepository.new_id()
            created_at = start + timedelta(milliseconds=i)
            key = history_key(owner, int(created_at.timestamp() * 1000), message_id)
            docs.append(
                MessageDoc(
                    id=PydanticObjectId(message_id),
                    history_key=key,
                    conversation_key=key,  # the owner's default conversation has the owner's id
                    conversation_id=owner,
                    owner_id=owner,
                    role=turn.role.value,
                    text=turn.text,
                    tokens=turn.tokens,
                    chars=len(turn.text),
                    model="bench-model",
                    status=_stored_status(turn.role),
                    created_at=created_at,
                )
            )
        for first in range(0, len(docs), SEED_BATCH):
            await MessageDoc.insert_many(docs[first : first + SEED_BATCH])
    return owners


async def _bench_db(
    database_uri: str, db_pid: int, histories: dict[int, list[Turn]], repeats: int
) -> list[dict[str, Any]]:
    client, _ = await open_database(database_uri, "bench_middleout", timeout_ms=5000)
    try:
        owners = await _seed(histories)
        repo = MessageRepository()
        rows = []
        for total, owner in owners.items():
            for budget in BUDGETS:
                loads, trims, totals = [], [], []
                counter = CountingCounter(default_counter())
                db_cpu = cpu_seconds(db_pid)
                for _ in range(repeats):
                    counter.calls = counter.chars = 0
                    started = time.perf_counter()
                    history = await repo.prompt_history(
                        conversation_id=owner, token_budget=budget, max_messages=MAX_MESSAGES
                    )
                    loaded = time.perf_counter()
                    result = middle_out(_prompt(history), budget, counter)
                    done = time.perf_counter()
                    loads.append(loaded - started)
                    trims.append(done - loaded)
                    totals.append(done - started)
                db_cpu = cpu_seconds(db_pid) - db_cpu
                rows.append(
                    {
                        "history_tokens": total,
                        "history_messages": len(histories[total]),
                        "budget": budget,
                        "load_ms": _ms(statistics.median(loads)),
                        "trim_ms": _ms(statistics.median(trims)),
                        "ms": _ms(statistics.median(totals)),
                        "p90_ms": _ms(sorted(totals)[int(0.9 * (len(totals) - 1))]),
                        "db_cpu_ms": _ms(db_cpu / repeats),
                        "loaded_messages": len(history),
                        "loaded_tokens": sum(m.tokens or 0 for m in history),
                        "prompt_tokens": result.prompt_tokens,
                        "tokenizer_calls": counter.calls,
                        "tokenized_chars": counter.chars,
                    }
                )
        return rows
    finally:
        await client.close()


def run(database_uri: str, db_pid: int, repeats: int) -> dict[str, Any]:
    turns = make_turns(default_counter())
    histories = {total: synthetic_history(turns, total) for total in HISTORY_TOKENS}
    return {
        "turn_tokens": [t.tokens for t in turns],
        "max_messages": MAX_MESSAGES,
        "pure": bench_pure(histories, repeats),
        "db": asyncio.run(_bench_db(database_uri, db_pid, histories, repeats)),
    }
