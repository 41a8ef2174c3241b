"""MediaRepository: the daily media counters, users' own quotas, and the stored results.

A request is counted by ONE conditional upsert on the user's document of the day
(`media_usage`, `_id` "<user>:<day>"): its filter holds the quota (`speech_ms` at most the
limit minus this recording; `pictures` at most the limit minus one), its update adds the
request. When the document does not exist yet, the upsert creates it already counting the
request (the filter's equality fields become its fields: `$setOnInsert` is ignored by the
embedded server). When it exists but the quota does not allow the request, MongoDB's upsert
tries to create a second document with the same `_id` and fails with DuplicateKeyError (the
embedded server's just answers None). Two first requests of a day can collide that way too, so
a collision is tried once more as a plain conditional update: whatever it finds then is the
answer. Deciding and counting are one
atomic step on every server; nothing is read first.
"""

from dataclasses import dataclass
from typing import Any

from beanie import PydanticObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from simplechat.documents.media_overrides import MediaOverridesDoc
from simplechat.documents.media_results import MediaResultDoc
from simplechat.documents.media_usage import MediaUsageDoc
from simplechat.media.types import MediaKind, MediaTotals, MediaUsage, Overrides


@dataclass(frozen=True, slots=True)
class DayUsage:
    speech_ms: int
    pictures: int


def _usage_id(user_id: str, day: str) -> str:
    return f"{user_id}:{day}"


class MediaRepository:
    async def count(
        self, *, user_id: str, day: str, usage: MediaUsage, speech_limit_ms: int, picture_limit: int
    ) -> DayUsage | None:
        """Count `usage` on the user's day if it stays within both limits; None if it does not.

        The caller has checked that `usage` alone fits the limits (a first request of the day
        larger than the quota would otherwise be created counting it)."""
        query: dict[str, Any] = {"_id": _usage_id(user_id, day), "user_id": user_id, "day": day}
        if usage.speech_ms:
            query["speech_ms"] = {"$lte": speech_limit_ms - usage.speech_ms}
        if usage.pictures:
            query["pictures"] = {"$lte": picture_limit - usage.pictures}
        # Both counters in every $inc, so that the document a first request creates has both.
        update = {"$inc": {"speech_ms": usage.speech_ms, "pictures": usage.pictures}}
        collection = MediaUsageDoc.get_pymongo_collection()
        try:
            doc = await collection.find_one_and_update(
                query, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            doc = await collection.find_one_and_update(
                query, update, return_document=ReturnDocument.AFTER
            )
        return None if doc is None else DayUsage(int(doc["speech_ms"]), int(doc["pictures"]))

    async def uncount(self, *, user_id: str, day: str, usage: MediaUsage) -> None:
        """Give back what `count` counted (a request that failed uses no quota)."""
        await MediaUsageDoc.get_pymongo_collection().update_one(
            {
                "_id": _usage_id(user_id, day),
                "speech_ms": {"$gte": usage.speech_ms},
                "pictures": {"$gte": usage.pictures},
            },
            {"$inc": {"speech_ms": -usage.speech_ms, "pictures": -usage.pictures}},
        )

    async def day_usage(self, *, user_id: str, day: str) -> DayUsage:
        doc = await MediaUsageDoc.get_pymongo_collection().find_one(
            {"_id": _usage_id(user_id, day)}
        )
        return DayUsage(int(doc["speech_ms"]), int(doc["pictures"])) if doc else DayUsage(0, 0)

    async def overrides(self, user_id: str) -> Overrides:
        doc = await MediaOverridesDoc.get_pymongo_collection().find_one({"_id": user_id})
        if doc is None:
            return Overrides()
        return Overrides(doc.get("speech_seconds_daily"), doc.get("pictures_daily"))

    async def set_overrides(
        self, user_id: str, overrides: Overrides, which: frozenset[str] | None = None
    ) -> None:
        """Set the user's overrides named in `which` (None: both), leaving the other as is."""
        values = {
            "speech_seconds_daily": overrides.speech_seconds_daily,
            "pictures_daily": overrides.pictures_daily,
        }
        named = {k: v for k, v in values.items() if which is None or k in which}
        await MediaOverridesDoc.get_pymongo_collection().update_one(
            {"_id": user_id}, {"$set": named}, upsert=True
        )

    def new_id(self) -> str:
        """An id for a result not stored yet (its credits are held under it first)."""
        return str(PydanticObjectId())

    async def record(
        self,
        *,
        result_id: str,
        user_id: str,
        kind: MediaKind,
        engine: str,
        size_bytes: int,
        text: str,
        duration_ms: int | None = None,
        width: int | None = None,
        height: int | None = None,
        cost: int = 0,
    ) -> None:
        doc = MediaResultDoc(
            id=PydanticObjectId(result_id),
            user_id=user_id,
            kind=kind.value,
            engine=engine,
            size_bytes=size_bytes,
            duration_ms=duration_ms,
            width=width,
            height=height,
            text=text,
            cost=cost,
        )
        await doc.insert()

    async def totals(self, user_id: str) -> MediaTotals:
        rows = await (
            await MediaResultDoc.get_pymongo_collection().aggregate(
                [
                    {"$match": {"user_id": user_id}},
                    {"$group": {"_id": "$kind", "n": {"$sum": 1}, "ms": {"$sum": "$duration_ms"}}},
                ]
            )
        ).to_list()
        by_kind = {str(r["_id"]): r for r in rows}
        speech = by_kind.get(MediaKind.SPEECH.value, {})
        return MediaTotals(
            recordings=int(speech.get("n") or 0),
            speech_ms=int(speech.get("ms") or 0),
            pictures=int(by_kind.get(MediaKind.PICTURE.value, {}).get("n") or 0),
        )

    async def delete_user(self, user_id: str) -> None:
        """Everything kept for one user (their account is being deleted)."""
        await MediaResultDoc.get_pymongo_collection().delete_many({"user_id": user_id})
        await MediaUsageDoc.get_pymongo_collection().delete_many({"user_id": user_id})
        await MediaOverridesDoc.get_pymongo_collection().delete_one({"_id": user_id})
