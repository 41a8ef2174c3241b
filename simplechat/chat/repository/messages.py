"""MessageRepository: the chat history in the `messages` collection.

Each message is stored with its raw text and its token count, so building a prompt never
re-tokenizes history and loads only as many messages as can fit. Two single-field keys order
the messages: `history_key` (one user's, across conversations) and `conversation_key` (one
conversation's), each "<owner or conversation>:<13-digit epoch ms>:<id>", so "the newest few"
and "the first few" are bounded range reads (see DEVELOPERS.md on compound indexes).
"""

from collections.abc import AsyncIterator, Sequence
from typing import Any

from beanie import PydanticObjectId
from pymongo import ASCENDING, DESCENDING

from simplechat.chat.repository.message_docs import (
    message_doc,
    prompt_message,
    stored_message,
)
from simplechat.chat.types import HistoryEntry, StoredMessage
from simplechat.documents.messages import MessageDoc, UsageEmbedded
from simplechat.documents.messages import MessageStatus as StoredStatus
from simplechat.llm.truncation import HEAD_SHARE_PERCENT
from simplechat.llm.types import ChatMessage, ContentPart, Role, Usage

_PROMPT_FIELDS = {"role": 1, "text": 1, "tokens": 1, "parts": 1, "conversation_key": 1}


def _key_range(prefix: str, before: str | None = None) -> dict[str, Any]:
    """All keys starting with "<prefix>:" (':' sorts just before ';'), or those before `before`."""
    return {"$gte": f"{prefix}:", "$lt": before or f"{prefix};"}


def _conversation_range(conversation_id: str, before: str | None = None) -> dict[str, Any]:
    return {"conversation_key": _key_range(conversation_id, before), "visible": True}


class MessageRepository:
    @staticmethod
    def new_id() -> str:
        """An id chosen before the insert, so loading history can run alongside it."""
        return str(PydanticObjectId())

    @staticmethod
    def _collection() -> Any:
        return MessageDoc.get_pymongo_collection()

    async def add_user_message(
        self,
        *,
        message_id: str,
        owner_id: str,
        conversation_id: str,
        text: str,
        parts: Sequence[ContentPart] | None,
        tokens: int,
        model: str,
        kind: str,
    ) -> str:
        doc = message_doc(
            message_id=message_id,
            owner_id=owner_id,
            conversation_id=conversation_id,
            role=Role.USER,
            text=text,
            parts=parts,
            tokens=tokens,
            model=model,
            kind=kind,
            status=StoredStatus.SENT,
        )
        await self._collection().insert_one(doc)
        return message_id

    async def add_reply(
        self,
        *,
        owner_id: str,
        conversation_id: str,
        reply_to: str,
        text: str,
        tokens: int,
        model: str,
        kind: str,
        usage: Usage | None,
        complete: bool = True,
        usage_estimated: bool = False,
        cost: int = 0,
        reply_id: str | None = None,
    ) -> str:
        reply_id = reply_id or self.new_id()
        doc = message_doc(
            message_id=reply_id,
            owner_id=owner_id,
            conversation_id=conversation_id,
            role=Role.ASSISTANT,
            text=text,
            tokens=tokens,
            model=model,
            kind=kind,
            status=StoredStatus.COMPLETE if complete else StoredStatus.INCOMPLETE,
            reply_to=reply_to,
            usage=None
            if usage is None
            else UsageEmbedded.model_construct(
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                estimated=usage_estimated,
            ),
            cost=cost,
        )
        await self._collection().insert_one(doc)
        return reply_id

    async def exists(self, message_id: str) -> bool:
        """Whether the message was stored (a task's reply, whose id was chosen in advance)."""
        return await self._collection().find_one({"_id": PydanticObjectId(message_id)}) is not None

    async def mark_unanswered(self, message_id: str, *, error_code: str) -> None:
        """The user's message got no answer (the call failed or the client left first)."""
        await self._collection().update_one(
            {"_id": PydanticObjectId(message_id)},
            {"$set": {"status": StoredStatus.UNANSWERED.value, "error_code": error_code}},
        )

    async def mark_answered(self, message_id: str) -> None:
        """An unanswered message got its answer after all (a regeneration)."""
        await self._collection().update_one(
            {"_id": PydanticObjectId(message_id)},
            {"$set": {"status": StoredStatus.SENT.value, "error_code": None}},
        )

    async def hide(self, message_ids: Sequence[str]) -> None:
        """Keep these messages but never show them (answers replaced by a regeneration)."""
        if message_ids:
            await self._collection().update_many(
                {"_id": {"$in": [PydanticObjectId(i) for i in message_ids]}},
                {"$set": {"visible": False}},
            )

    async def delete_ids(self, message_ids: Sequence[str]) -> None:
        await self._collection().delete_many(
            {"_id": {"$in": [PydanticObjectId(i) for i in message_ids]}}
        )

    async def delete_conversation(self, conversation_id: str) -> int:
        """Delete every message of a conversation; how many there were."""
        result = await self._collection().delete_many(
            {"conversation_key": _key_range(conversation_id)}
        )
        return int(result.deleted_count)

    async def prompt_history(
        self,
        *,
        conversation_id: str,
        token_budget: int,
        max_messages: int,
        exclude_id: str = "",
        before_key: str | None = None,
    ) -> list[ChatMessage]:
        """The visible messages a prompt can use, oldest first, at most `max_messages`: the
        newest until `token_budget` is reached, and, when those do not reach back to the
        start, the first ones until HEAD_SHARE_PERCENT of the budget (middle-out then keeps
        what fits of both). Each read stops one message past its budget, so middle-out has
        something to cut. Without the message `exclude_id` (the one being answered) and
        before `before_key` when given (a regeneration answers an earlier message)."""
        tail, reached_start = await self._read_range(
            _conversation_range(conversation_id, before_key),
            DESCENDING,
            token_budget,
            max_messages,
            exclude_id,
        )
        tail.reverse()
        if reached_start or not tail:
            return [prompt_message(raw) for raw in tail]
        head_max = max(1, max_messages * HEAD_SHARE_PERCENT // 100)
        head, _ = await self._read_range(
            _conversation_range(conversation_id, tail[0]["conversation_key"]),
            ASCENDING,
            token_budget * HEAD_SHARE_PERCENT // 100,
            head_max,
            exclude_id,
        )
        tail = tail[max(0, len(tail) + len(head) - max_messages) :]  # the cap: the middle goes
        return [prompt_message(raw) for raw in (*head, *tail)]

    async def _read_range(
        self, query: dict[str, Any], direction: int, budget: int, limit: int, exclude_id: str
    ) -> tuple[list[dict[str, Any]], bool]:
        """Messages of `query` in `direction` until `budget` tokens or `limit` messages (one
        round trip); True when the range ran out first (everything was read)."""
        # Whole documents, read as one list: a projection makes the embedded server deep-copy
        # every document (about 1 ms of its CPU for 100 messages), far more than the unused
        # fields cost to decode here; and `to_list` skips the cursor's per-document steps.
        docs = (
            await self._collection()
            .find(query)
            .sort("conversation_key", direction)
            .limit(limit + 1)
            .batch_size(limit + 1)  # one round trip; the range read stops at the limit
            .to_list()
        )
        found: list[dict[str, Any]] = []
        total = 0
        exhausted = True
        for raw in docs:
            if str(raw["_id"]) == exclude_id:
                continue
            found.append(raw)
            total += int(raw.get("tokens") or 0)
            if total >= budget or len(found) >= limit:
                exhausted = False
                break
        return found, exhausted

    async def last_exchange(
        self, conversation_id: str, max_messages: int
    ) -> tuple[StoredMessage, list[str]] | None:
        """The conversation's last visible user message and the visible answers after it."""
        cursor = (
            self._collection()
            .find(_conversation_range(conversation_id))
            .sort("conversation_key", DESCENDING)
            .limit(max_messages)
        )
        after: list[str] = []
        async for raw in cursor:
            if raw["role"] == Role.USER.value:
                await cursor.close()
                return stored_message(raw), after
            after.append(str(raw["_id"]))
        return None

    async def page(
        self, conversation_id: str, *, skip: int, limit: int
    ) -> tuple[list[StoredMessage], int]:
        """A page of the conversation's visible messages, oldest first, and how many there are."""
        query = _conversation_range(conversation_id)
        cursor = self._collection().find(query).sort("conversation_key", ASCENDING)
        items = [stored_message(raw) async for raw in cursor.skip(skip).limit(limit)]
        return items, await self._collection().count_documents(query)

    async def visible(self, conversation_id: str) -> AsyncIterator[StoredMessage]:
        """Every visible message of the conversation, oldest first."""
        cursor = (
            self._collection()
            .find(_conversation_range(conversation_id))
            .sort("conversation_key", ASCENDING)
        )
        async for raw in cursor:
            yield stored_message(raw)

    async def last_entries(self, *, owner_id: str, n: int) -> list[HistoryEntry]:
        """The owner's last `n` visible messages across conversations, oldest first."""
        # `$ne: False` rather than `True`: messages stored before conversations have no flag.
        query = {"history_key": _key_range(owner_id), "visible": {"$ne": False}}
        cursor = (
            self._collection()
            .find(query, projection={"history_key": 0})
            .sort("history_key", DESCENDING)
            .limit(n)
            .batch_size(n)
        )
        docs = [doc async for doc in cursor]
        docs.reverse()
        return [HistoryEntry(d["role"], d["text"], d["created_at"], d["status"]) for d in docs]

    async def delete_owner(self, owner_id: str) -> None:
        """Every message and reply of one owner (their account is being deleted)."""
        await self._collection().delete_many({"owner_id": owner_id})
