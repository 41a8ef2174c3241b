"""MessageRepository: the chat history in the `messages` collection.

Each message is stored with its raw text and its token count, so building a prompt never
re-tokenizes history and loads only as many messages as can fit.
"""

from typing import Any

from beanie import PydanticObjectId
from pymongo import DESCENDING

from simplechat.chat.types import HistoryEntry
from simplechat.documents.base import utcnow
from simplechat.documents.messages import MessageDoc, MessageStatus, UsageEmbedded
from simplechat.llm.types import ChatMessage, Role, Usage

# Fields Beanie adds to every Document that the messages collection does not store.
_NOT_STORED = frozenset({"revision_id"})
_ROLES = {role.value: role for role in Role}  # a dict lookup: Role(value) costs ~1 µs a message


def history_key(owner_id: str, created_at_ms: int, message_id: str) -> str:
    return f"{owner_id}:{created_at_ms:013d}:{message_id}"


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
    reply_to: str | None = None,
    usage: UsageEmbedded | None = None,
) -> dict[str, Any]:
    """A `messages` document, as MessageDoc declares it. Built with `model_construct` (no
    validation: validating every insert cost about 1 ms of CPU per message) and written with
    the driver."""
    created_at = utcnow()
    doc = MessageDoc.model_construct(
        id=PydanticObjectId(message_id),
        history_key=history_key(owner_id, int(created_at.timestamp() * 1000), message_id),
        owner_id=owner_id,
        role=role.value,
        text=text,
        tokens=tokens,
        chars=len(text),
        model=model,
        kind=kind,
        status=status,
        created_at=created_at,
        reply_to=reply_to,
        usage=usage,
        error_code=None,
    )
    stored: dict[str, Any] = doc.model_dump(by_alias=True, exclude=_NOT_STORED)
    return stored


class MessageRepository:
    @staticmethod
    def new_id() -> str:
        """An id chosen before the insert, so loading history can run alongside it."""
        return str(PydanticObjectId())

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
        reply_id = self.new_id()
        doc = _message(
            message_id=reply_id,
            owner_id=owner_id,
            role=Role.ASSISTANT,
            text=text,
            tokens=tokens,
            model=model,
            kind=kind,
            status=MessageStatus.COMPLETE if complete else MessageStatus.INCOMPLETE,
            reply_to=reply_to,
            usage=None
            if usage is None
            else UsageEmbedded.model_construct(
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                estimated=usage_estimated,
            ),
        )
        await MessageDoc.get_pymongo_collection().insert_one(doc)
        return reply_id

    async def mark_unanswered(self, message_id: str, *, error_code: str) -> None:
        """The user's message got no answer (the call failed or the client left first)."""
        await MessageDoc.get_pymongo_collection().update_one(
            {"_id": PydanticObjectId(message_id)},
            {"$set": {"status": MessageStatus.UNANSWERED.value, "error_code": error_code}},
        )

    async def prompt_history(
        self, *, owner_id: str, token_budget: int, max_messages: int, exclude_id: str
    ) -> list[ChatMessage]:
        """The owner's most recent messages, oldest first, stopping once `token_budget` is
        reached (one message past it, so middle-out has something to cut), at most
        `max_messages`, without the message `exclude_id` (the one being answered)."""
        # Whole documents, read as one list: a projection makes the embedded server deep-copy
        # every document (about 1 ms of its CPU for 100 messages), far more than the unused
        # fields cost to decode here; and `to_list` skips the cursor's per-document steps.
        docs = (
            await MessageDoc.get_pymongo_collection()
            .find(_owner_range(owner_id))
            .sort("history_key", DESCENDING)
            .limit(max_messages + 1)
            .batch_size(max_messages + 1)  # one round trip; the range read stops at the limit
            .to_list()
        )
        excluded = PydanticObjectId(exclude_id) if PydanticObjectId.is_valid(exclude_id) else None
        newest_first: list[ChatMessage] = []
        total = 0
        for raw in docs:
            if raw["_id"] == excluded:
                continue
            tokens = int(raw.get("tokens") or 0)
            newest_first.append(ChatMessage(_ROLES[raw["role"]], str(raw["text"]), tokens))
            total += tokens
            if total >= token_budget or len(newest_first) >= max_messages:
                break
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
