"""Redeem codes. Using one is a single conditional update from unused to used (keyed by the
code), so of any number of parallel attempts exactly one matches."""

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument

from simplechat.billing.types import CodeStatus
from simplechat.documents.redeem_codes import RedeemCodeDoc
from simplechat.kit.pagination import Paged, PageParams


@dataclass(frozen=True, slots=True)
class StoredCode:
    code: str
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


@dataclass(frozen=True, slots=True)
class NewCode:
    code: str
    credits: int
    note: str | None
    created_at: datetime
    created_by: str
    expires_ms: int


def _stored(doc: dict[str, Any]) -> StoredCode:
    return StoredCode(
        code=doc["_id"],
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
                    "_id": c.code,
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
        self, code: str, *, user_id: str, username: str, now_ms: int
    ) -> StoredCode | None:
        """Use the code for `user_id` if it is unused and unexpired (the credit is then due);
        None when it is not (any more)."""
        doc = await RedeemCodeDoc.get_pymongo_collection().find_one_and_update(
            {"_id": code, "status": "unused", "expires_ms": {"$gt": now_ms}},
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

    async def find(self, code: str) -> StoredCode | None:
        doc = await RedeemCodeDoc.get_pymongo_collection().find_one({"_id": code})
        return None if doc is None else _stored(doc)

    async def mark_credited(self, code: str) -> None:
        await RedeemCodeDoc.get_pymongo_collection().update_one(
            {"_id": code, "credit_due": True}, {"$set": {"credit_due": False}}
        )

    async def due(self, *, used_before_ms: int, limit: int) -> list[StoredCode]:
        """Used codes whose credit is not yet known to be in the account."""
        cursor = RedeemCodeDoc.get_pymongo_collection().find(
            {"credit_due": True, "used_ms": {"$lt": used_before_ms}}, limit=limit
        )
        return [_stored(doc) async for doc in cursor]

    async def disable(self, code: str, *, by: str, now_ms: int) -> StoredCode | None:
        """Disable an unused code (expired or not); None when it is not unused."""
        doc = await RedeemCodeDoc.get_pymongo_collection().find_one_and_update(
            {"_id": code, "status": "unused"},
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
