"""PresetRepository: the `presets` collection."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from beanie import PydanticObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from simplechat.documents.base import utcnow
from simplechat.documents.presets import PUBLIC_SCOPE, PresetDoc
from simplechat.llm.types import Role
from simplechat.presets.types import Preset, PresetDraft, PresetMessage, PresetParams

LIST_ORDER = [("created_at", ASCENDING), ("_id", ASCENDING)]


def _object_id(preset_id: str) -> PydanticObjectId | None:
    try:
        return PydanticObjectId(preset_id)
    except (InvalidId, TypeError, ValueError):
        return None


def _now_ms() -> int:
    return int(utcnow().timestamp() * 1000)


def message_docs(messages: Sequence[PresetMessage]) -> list[dict[str, Any]]:
    return [{"role": m.role.value, "content": m.content, "visible": m.visible} for m in messages]


def params_fields(params: PresetParams) -> dict[str, Any]:
    return {
        "model": params.model,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
    }


def _preset(raw: dict[str, Any]) -> Preset:
    return Preset(
        id=str(raw["_id"]),
        name=raw["name"],
        description=raw.get("description") or "",
        messages=tuple(
            PresetMessage(Role(m["role"]), m["content"], bool(m.get("visible", True)))
            for m in raw.get("messages") or []
        ),
        params=PresetParams(
            model=raw.get("model"),
            temperature=raw.get("temperature"),
            top_p=raw.get("top_p"),
            max_tokens=raw.get("max_tokens"),
        ),
        public=raw["scope"] == PUBLIC_SCOPE,
        owner_id=raw.get("owner_id") or "",
        builtin=raw.get("builtin"),
        created_at=raw["created_at"],
        updated_at=datetime.fromtimestamp(raw.get("updated_ms", 0) / 1000, UTC),
    )


class PresetRepository:
    async def create(self, owner_id: str, draft: PresetDraft) -> Preset:
        now = utcnow()
        doc = {
            "_id": PydanticObjectId(),
            "scope": PUBLIC_SCOPE if draft.public else owner_id,
            "owner_id": owner_id,
            "builtin": None,
            "name": draft.name,
            "description": draft.description,
            "messages": message_docs(draft.messages),
            **params_fields(draft.params),
            "created_at": now,
            "updated_ms": int(now.timestamp() * 1000),
        }
        await PresetDoc.get_pymongo_collection().insert_one(doc)
        return _preset(doc)

    async def get(self, preset_id: str) -> Preset | None:
        oid = _object_id(preset_id)
        if oid is None:
            return None
        raw = await PresetDoc.get_pymongo_collection().find_one({"_id": oid})
        return None if raw is None else _preset(raw)

    async def page(self, user_id: str, *, skip: int, limit: int) -> tuple[list[Preset], int]:
        """The public presets and `user_id`'s own, public first, each oldest first. Two
        equality queries on `scope` rather than one `$in`, which the embedded server answers
        by scanning the whole collection."""
        collection = PresetDoc.get_pymongo_collection()
        public, mine = await asyncio.gather(
            collection.count_documents({"scope": PUBLIC_SCOPE}),
            collection.count_documents({"scope": user_id}),
        )
        items: list[Preset] = []
        for scope, skip_here in ((PUBLIC_SCOPE, skip), (user_id, max(0, skip - public))):
            wanted = limit - len(items)
            if wanted <= 0 or (scope == PUBLIC_SCOPE and skip >= public):
                continue
            cursor = collection.find({"scope": scope}).sort(LIST_ORDER).skip(skip_here)
            items += [_preset(raw) async for raw in cursor.limit(wanted)]
        return items, public + mine

    async def update(self, preset_id: str, fields: dict[str, Any]) -> Preset | None:
        """Set `fields` (document field names); None when the preset is gone."""
        oid = _object_id(preset_id)
        if oid is None:
            return None
        raw = await PresetDoc.get_pymongo_collection().find_one_and_update(
            {"_id": oid},
            {"$set": {**fields, "updated_ms": _now_ms()}},
            return_document=ReturnDocument.AFTER,
        )
        return None if raw is None else _preset(raw)

    async def delete(self, preset_id: str) -> bool:
        oid = _object_id(preset_id)
        if oid is None:
            return False
        result = await PresetDoc.get_pymongo_collection().delete_one({"_id": oid})
        return result.deleted_count == 1

    async def put_builtin(
        self, key: str, *, name: str, description: str, messages: Sequence[PresetMessage]
    ) -> None:
        """Create or refresh a built-in preset (unique by `key`); safe to run from several
        processes at once."""
        now = utcnow()
        update = {
            "$set": {
                "name": name,
                "description": description,
                "messages": message_docs(messages),
                "updated_ms": int(now.timestamp() * 1000),
            },
            "$setOnInsert": {"scope": PUBLIC_SCOPE, "owner_id": "", "created_at": now},
        }
        collection = PresetDoc.get_pymongo_collection()
        try:
            await collection.update_one({"builtin": key}, update, upsert=True)
        except DuplicateKeyError:  # another process inserted it first: now it exists
            await collection.update_one({"builtin": key}, update)

    async def delete_private(self, owner_id: str) -> None:
        """One owner's private presets (their account is being deleted); public presets an
        admin made stay, for everyone."""
        await PresetDoc.get_pymongo_collection().delete_many({"scope": owner_id})
