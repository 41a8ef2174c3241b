"""ConversationRepository: the `conversations` collection.

Every lookup names the owner too (`{_id, owner_id}`), so another user's conversation is
indistinguishable from one that does not exist. Totals change only by `$inc` (one update per
exchange, `record`); the update time and the listing key only move forward (`$max`).
"""

import re
from datetime import UTC, datetime
from typing import Any

from beanie import PydanticObjectId
from bson.errors import InvalidId
from pymongo import DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from simplechat.chat.repository.message_docs import history_key
from simplechat.chat.types import Conversation, PresetSnapshot, Sampling, Tally
from simplechat.documents.base import utcnow
from simplechat.documents.conversations import ConversationDoc
from simplechat.llm.types import Role
from simplechat.presets.types import PresetMessage


def object_id(conversation_id: str) -> PydanticObjectId | None:
    try:
        return PydanticObjectId(conversation_id)
    except (InvalidId, TypeError, ValueError):
        return None


def _list_range(owner_id: str) -> dict[str, Any]:
    return {"$gte": f"{owner_id}:", "$lt": f"{owner_id};"}


def _with_folded_title(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields`, plus the case-folded title the search matches when a title is set."""
    if fields.get("title") is None:
        return fields
    return {**fields, "title_folded": fields["title"].casefold()}


def _snapshot(raw: dict[str, Any] | None) -> PresetSnapshot | None:
    if not raw:
        return None
    return PresetSnapshot(
        id=raw["id"],
        name=raw["name"],
        description=raw.get("description") or "",
        messages=tuple(
            PresetMessage(Role(m["role"]), m["content"], bool(m.get("visible", True)))
            for m in raw.get("messages") or []
        ),
    )


def snapshot_doc(preset: PresetSnapshot) -> dict[str, Any]:
    return {
        "id": preset.id,
        "name": preset.name,
        "description": preset.description,
        "messages": [
            {"role": m.role.value, "content": m.content, "visible": m.visible}
            for m in preset.messages
        ],
    }


def _conversation(raw: dict[str, Any]) -> Conversation:
    return Conversation(
        id=str(raw["_id"]),
        owner_id=raw["owner_id"],
        title=raw.get("title") or "",
        title_auto=bool(raw.get("title_auto", False)),
        model=raw.get("model"),
        sampling=Sampling(
            max_tokens=raw.get("max_tokens"),
            temperature=raw.get("temperature"),
            top_p=raw.get("top_p"),
        ),
        preset=_snapshot(raw.get("preset")),
        message_count=int(raw.get("message_count") or 0),
        input_tokens=int(raw.get("input_tokens") or 0),
        output_tokens=int(raw.get("output_tokens") or 0),
        total_tokens=int(raw.get("total_tokens") or 0),
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        bill=int(raw.get("bill") or 0),
        created_at=raw["created_at"],
        updated_at=datetime.fromtimestamp(int(raw.get("updated_ms") or 0) / 1000, UTC),
    )


class ConversationRepository:
    @staticmethod
    def _collection() -> Any:
        return ConversationDoc.get_pymongo_collection()

    async def create(self, owner_id: str, fields: dict[str, Any]) -> Conversation:
        """A new conversation with `fields` (title, title_auto, model, sampling, preset)."""
        now = utcnow()
        now_ms = int(now.timestamp() * 1000)
        oid = PydanticObjectId()
        doc = {
            "_id": oid,
            "owner_id": owner_id,
            **_with_folded_title(fields),
            "message_count": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "total_tokens": 0,
            "prompt_tokens": 0,
            "bill": 0,
            "created_at": now,
            "updated_ms": now_ms,
            "list_key": history_key(owner_id, now_ms, str(oid)),
        }
        await self._collection().insert_one(doc)
        return _conversation(doc)

    async def get(self, owner_id: str, conversation_id: str) -> Conversation | None:
        oid = object_id(conversation_id)
        if oid is None:
            return None
        raw = await self._collection().find_one({"_id": oid, "owner_id": owner_id})
        return None if raw is None else _conversation(raw)

    async def page(
        self, owner_id: str, *, title_search: str | None, skip: int, limit: int
    ) -> tuple[list[Conversation], int]:
        """The owner's conversations, most recently updated first; `title_search` is plain
        text (matched case-insensitively anywhere in the title, never as a pattern). The
        match is case-sensitive on the case-folded title: the embedded server scans the
        whole collection for a regex with the "i" option."""
        query: dict[str, Any] = {"list_key": _list_range(owner_id)}
        if title_search:
            query["title_folded"] = {"$regex": re.escape(title_search.casefold())}
        cursor = self._collection().find(query).sort("list_key", DESCENDING)
        items = [_conversation(raw) async for raw in cursor.skip(skip).limit(limit)]
        return items, await self._collection().count_documents(query)

    async def update(
        self, owner_id: str, conversation_id: str, fields: dict[str, Any]
    ) -> Conversation | None:
        """Set `fields` (None values are stored as null: the default)."""
        oid = object_id(conversation_id)
        if oid is None:
            return None
        raw = await self._collection().find_one_and_update(
            {"_id": oid, "owner_id": owner_id},
            {"$set": _with_folded_title(fields)},
            return_document=ReturnDocument.AFTER,
        )
        return None if raw is None else _conversation(raw)

    async def delete(self, owner_id: str, conversation_id: str) -> bool:
        oid = object_id(conversation_id)
        if oid is None:
            return False
        result = await self._collection().delete_one({"_id": oid, "owner_id": owner_id})
        return bool(result.deleted_count == 1)

    async def record(
        self,
        owner_id: str,
        conversation_id: str,
        tally: Tally,
        *,
        default: bool,
        title: str | None = None,
    ) -> bool:
        """Add an exchange to the conversation's totals (and its cost to the bill) in one
        update, so the bill is always the sum of its answers' costs. The default
        conversation is created by it when it does not exist yet (titled `title`); another
        conversation gets `title` set when given. False: the conversation is gone."""
        now = utcnow()
        now_ms = int(now.timestamp() * 1000)
        update: dict[str, Any] = {
            "$inc": {
                "message_count": tally.messages,
                "input_tokens": tally.input_tokens,
                "output_tokens": tally.output_tokens,
                "total_tokens": tally.input_tokens + tally.output_tokens,
                "prompt_tokens": tally.prompt_tokens,
                "bill": tally.cost,
            },
            "$max": {
                "updated_ms": now_ms,
                "list_key": history_key(owner_id, now_ms, conversation_id),
            },
        }
        query = {"_id": PydanticObjectId(conversation_id), "owner_id": owner_id}
        if not default:
            if title is not None:
                update["$set"] = _with_folded_title({"title": title, "title_auto": False})
            result = await self._collection().update_one(query, update)
            return bool(result.matched_count)
        update["$setOnInsert"] = {
            **_with_folded_title({"title": title or "", "title_auto": False}),
            "created_at": now,
        }
        try:
            await self._collection().update_one(query, update, upsert=True)
        except DuplicateKeyError:  # a parallel first message created it: add to it
            await self._collection().update_one(query, update)
        return True

    async def delete_owner(self, owner_id: str) -> None:
        """Every conversation of one owner (their account is being deleted)."""
        await self._collection().delete_many({"list_key": _list_range(owner_id)})
