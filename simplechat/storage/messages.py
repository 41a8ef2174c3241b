"""MessageRepository: the chat history in the `messages` collection.

Each message is stored with its raw text and its token count, so building a prompt never
re-tokenizes history and loads only as many messages as can fit.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beanie import PydanticObjectId
from pymongo import DESCENDING

from simplechat.domain.messages import ChatMessage, Role, Usage
from simplechat.storage.documents import MessageDoc, MessageStatus, UsageEmbedded, utcnow


def new_message_id() -> str:
    """An id chosen before the insert, so loading history can run alongside it."""
    return str(PydanticObjectId())


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    role: str
    text: str
    created_at: datetime
    status: str


def history_key(owner_id: str, created_at: datetime, message_id: str) -> str:
    return f"{owner_id}:{int(created_at.timestamp() * 1000):013d}:{message_id}"


def _owner_range(owner_id: str) -> dict[str, Any]:
    """All of one owner's history keys (':' sorts just before ';')."""
    return {"history_key": {"$gte": f"{owner_id}:", "$lt": f"{owner_id};"}}


def _message(
    *,
    message_id: str,
    owner_id: str,
    role: Role,
    text: str,
    tokens: int,
    model: str,
    kind: str,
    status: MessageStatus,
) -> dict[str, Any]:
    """A `messages` document as MessageDoc declares it. Written with the driver directly:
    validating a MessageDoc for every insert cost about 1 ms of CPU per message."""
    created_at = utcnow()
    return {
        "_id": PydanticObjectId(message_id),
        "history_key": history_key(owner_id, created_at, message_id),
        "owner_id": owner_id,
        "role": role.value,
        "text": text,
        "tokens": tokens,
        "chars": len(text),
        "model": model,
        "kind": kind,
        "status": status.value,
        "created_at": created_at,
        "conversation_id": None,
        "reply_to": None,
        "usage": None,
        "error_code": None,
    }


class MessageRepository:
    async def add_user_message(
        self, *, message_id: str, owner_id: str, text: str, tokens: int, model: str, kind: str
    ) -> str:
        doc = _message(
            message_id=message_id,
            owner_id=owner_id,
            role=Role.USER,
            text=text,
            tokens=tokens,
            model=model,
            kind=kind,
            status=MessageStatus.SENT,
        )
        await MessageDoc.get_pymongo_collection().insert_one(doc)
        return message_id

    async def add_reply(
        self,
        *,
        owner_id: str,
        reply_to: str,
        text: str,
        tokens: int,
        model: str,
        kind: str,
        usage: Usage | None,
        complete: bool = True,
        usage_estimated: bool = False,
    ) -> str:
        doc = _message(
            message_id=new_message_id(),
            owner_id=owner_id,
            role=Role.ASSISTANT,
            text=text,
            tokens=tokens,
            model=model,
            kind=kind,
            status=MessageStatus.COMPLETE if complete else MessageStatus.INCOMPLETE,
        )
        doc["reply_to"] = reply_to
        if usage is not None:
            doc["usage"] = UsageEmbedded(
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                estimated=usage_estimated,
            ).model_dump()
        result = await MessageDoc.get_pymongo_collection().insert_one(doc)
        return str(result.inserted_id)

    async def mark(
        self, message_id: str, status: MessageStatus, *, error_code: str | None = None
    ) -> None:
        collection = MessageDoc.get_pymongo_collection()
        await collection.update_one(
            {"_id": PydanticObjectId(message_id)},
            {"$set": {"status": status.value, "error_code": error_code}},
        )

    async def prompt_history(
        self, *, owner_id: str, token_budget: int, max_messages: int, exclude_id: str
    ) -> list[ChatMessage]:
        """The owner's most recent messages, oldest first, stopping once `token_budget` is
        reached (one message past it, so middle-out has something to cut), at most
        `max_messages`, without the message `exclude_id` (the one being answered)."""
        cursor = (
            MessageDoc.get_pymongo_collection()
            .find(_owner_range(owner_id), projection={"role": 1, "text": 1, "tokens": 1})
            .sort("history_key", DESCENDING)
            .limit(max_messages + 1)
            .batch_size(max_messages + 1)  # one round trip; the range read stops at the limit
        )
        newest_first: list[ChatMessage] = []
        total = 0
        async for raw in cursor:
            if str(raw["_id"]) == exclude_id:
                continue
            tokens = int(raw.get("tokens") or 0)
            newest_first.append(ChatMessage(Role(raw["role"]), str(raw["text"]), tokens))
            total += tokens
            if total >= token_budget or len(newest_first) >= max_messages:
                break
        await cursor.close()
        newest_first.reverse()
        return newest_first

    async def last_entries(self, *, owner_id: str, n: int) -> list[HistoryEntry]:
        """The owner's last `n` messages, oldest first."""
        cursor = (
            MessageDoc.get_pymongo_collection()
            .find(_owner_range(owner_id), projection={"history_key": 0})
            .sort("history_key", DESCENDING)
            .limit(n)
            .batch_size(n)
        )
        docs = [doc async for doc in cursor]
        docs.reverse()
        return [HistoryEntry(d["role"], d["text"], d["created_at"], d["status"]) for d in docs]
