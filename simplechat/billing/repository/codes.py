"""Redeem codes, stored by their SHA-256 (`billing.rules.code_id`) with their first symbols.
Using one is a single conditional update from unused to used (keyed by the code's id), so of
any number of parallel attempts exactly one matches.

A code is looked up by the ids it may be stored under (`code_refs`: its hash, and for codes
made before codes were stored hashed, the code itself) in one `$in` on `_id`, so those keep
working without a migration."""

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument

from simplechat.billing.rules import CODE_SHOWN, code_id, is_legacy_code
from simplechat.billing.types import CodeStatus
from simplechat.documents.redeem_codes import RedeemCodeDoc
from simplechat.kit.pagination import Paged, PageParams


@dataclass(frozen=True, slots=True)
class StoredCode:
    id: str  # the code's SHA-256 (a code made before: the code itself)
    prefix: str  # its first symbols, to tell codes apart
    credits: int
    status: str  # unused | used | disabled (expired is derived)
    note: str | None
    created_at: datetime
    created_by: str
    expires_ms: int
    used_by: str | None
    used_by_name: str | None
    used_ms: int | None
    credit_due: bool

    @property
    def legacy(self) -> bool:
        """Stored as the code itself (made before codes were stored hashed)."""
        return is_legacy_code(self.id)

    @property
    def public_id(self) -> str:
        """The id lists show and lookups take: the code's SHA-256, whatever it is stored by."""
        return code_id(self.id) if self.legacy else self.id


@dataclass(frozen=True, slots=True)
class NewCode:
    id: str  # billing.rules.code_id of the code
    prefix: str
    credits: int
    note: str | None
    created_at: datetime
    created_by: str
    expires_ms: int


def _stored(doc: dict[str, Any]) -> StoredCode:
    stored_id = str(doc["_id"])
    return StoredCode(
        id=stored_id,
        prefix=str(doc.get("prefix") or stored_id[:CODE_SHOWN]),
        credits=int(doc["credits"]),
        status=doc["status"],
        note=doc.get("note"),
        created_at=doc["created_at"],
        created_by=doc["created_by"],
        expires_ms=int(doc["expires_ms"]),
        used_by=doc.get("used_by"),
        used_by_name=doc.get("used_by_name"),
        used_ms=doc.get("used_ms"),
        credit_due=bool(doc.get("credit_due")),
    )


def _status_filter(status: CodeStatus | None, now_ms: int) -> dict[str, Any]:
    if status is CodeStatus.UNUSED:
        return {"status": "unused", "expires_ms": {"$gt": now_ms}}
    if status is CodeStatus.EXPIRED:
        return {"status": "unused", "expires_ms": {"$lte": now_ms}}
    if status is not None:
        return {"status": status.value}
    return {}


class CodeRepository:
    async def insert(self, codes: list[NewCode]) -> None:
        await RedeemCodeDoc.get_pymongo_collection().insert_many(
            [
                {
                    "_id": c.id,
                    "prefix": c.prefix,
                    "credits": c.credits,
                    "status": "unused",
                    "note": c.note,
                    "created_at": c.created_at,
                    "created_ms": int(c.created_at.timestamp() * 1000),
                    "created_by": c.created_by,
                    "expires_ms": c.expires_ms,
                    "credit_due": False,
                }
                for c in codes
            ]
        )

    async def claim(
        self, refs: tuple[str, ...], *, user_id: str, username: str, now_ms: int
    ) -> StoredCode | None:
        """Use the code stored under one of `refs` for `user_id` if it is unused and unexpired
        (the credit is then due); None when it is not (any more)."""
        doc = await RedeemCodeDoc.get_pymongo_collection().find_one_and_update(
            {"_id": {"$in": list(refs)}, "status": "unused", "expires_ms": {"$gt": now_ms}},
            {
                "$set": {
                    "status": "used",
                    "used_by": user_id,
                    "used_by_name": username,
                    "used_ms": now_ms,
                    "credit_due": True,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _stored(doc)

    async def find(self, refs: tuple[str, ...]) -> StoredCode | None:
        doc = await RedeemCodeDoc.get_pymongo_collection().find_one({"_id": {"$in": list(refs)}})
        return None if doc is None else _stored(doc)

    async def legacy_by_hash(self, hashed: str) -> StoredCode | None:
        """The code made before codes were stored hashed whose SHA-256 is `hashed` (an admin
        looking it up by its listed id). Those codes lack `prefix`; they are few and only
        ever fewer, and this is the admins' lookup, never a redemption."""
        cursor = RedeemCodeDoc.get_pymongo_collection().find({"prefix": {"$exists": False}})
        async for doc in cursor:
            if code_id(str(doc["_id"])) == hashed:
                return _stored(doc)
        return None

    async def mark_credited(self, code_id: str) -> None:
        await RedeemCodeDoc.get_pymongo_collection().update_one(
            {"_id": code_id, "credit_due": True}, {"$set": {"credit_due": False}}
        )

    async def due(self, *, used_before_ms: int, limit: int) -> list[StoredCode]:
        """Used codes whose credit is not yet known to be in the account."""
        cursor = RedeemCodeDoc.get_pymongo_collection().find(
            {"credit_due": True, "used_ms": {"$lt": used_before_ms}}, limit=limit
        )
        return [_stored(doc) async for doc in cursor]

    async def disable(self, code_id: str, *, by: str, now_ms: int) -> StoredCode | None:
        """Disable an unused code (expired or not); None when it is not unused."""
        doc = await RedeemCodeDoc.get_pymongo_collection().find_one_and_update(
            {"_id": code_id, "status": "unused"},
            {"$set": {"status": "disabled", "disabled_by": by, "disabled_ms": now_ms}},
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _stored(doc)

    async def page(
        self, status: CodeStatus | None, *, now_ms: int, params: PageParams
    ) -> Paged[StoredCode]:
        """Newest first (codes of one batch in code order)."""
        collection = RedeemCodeDoc.get_pymongo_collection()
        query = _status_filter(status, now_ms)
        cursor = (
            collection.find(query)
            .sort([("created_ms", DESCENDING), ("_id", ASCENDING)])
            .skip(params.skip)
            .limit(params.limit)
        )
        docs, total = await asyncio.gather(cursor.to_list(), collection.count_documents(query))
        return Paged([_stored(d) for d in docs], total, params)
