"""LimitRepository: the atomic counters behind the per-user limits.

Each decision is one conditional `find_one_and_update`: the condition is the limit, so the
check and the record happen together in the database, across every worker and machine.
"""

from contextlib import suppress
from dataclasses import dataclass

from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from simplechat.storage.documents import BurstSlotDoc, DailyCounterDoc, LimitRefusalDoc


@dataclass(frozen=True, slots=True)
class SlotClaim:
    slot: int
    claimed_until_ms: int
    previous_until_ms: int


def _daily_id(user_id: str, day: str) -> str:
    return f"{user_id}:{day}"


class LimitRepository:
    async def claim_burst_slot(
        self, *, user_id: str, slots: int, now_ms: int, window_ms: int
    ) -> SlotClaim | None:
        """Claim a free slot (one whose time has passed) until now + window, or None."""
        claim = await self._claim(user_id, slots, now_ms, window_ms)
        if claim is None:
            # Maybe the slots did not exist yet (first message, or a raised limit); a parallel
            # request may be creating them right now, so always look once more after this.
            await self._ensure_slots(user_id, slots)
            claim = await self._claim(user_id, slots, now_ms, window_ms)
        return claim

    async def _claim(
        self, user_id: str, slots: int, now_ms: int, window_ms: int
    ) -> SlotClaim | None:
        until_ms = now_ms + window_ms
        before = await BurstSlotDoc.get_pymongo_collection().find_one_and_update(
            {"user_id": user_id, "slot": {"$lt": slots}, "until_ms": {"$lte": now_ms}},
            {"$set": {"until_ms": until_ms}},
            projection={"slot": 1, "until_ms": 1},
            return_document=ReturnDocument.BEFORE,
        )
        if before is None:
            return None
        return SlotClaim(int(before["slot"]), until_ms, int(before["until_ms"]))

    async def _ensure_slots(self, user_id: str, slots: int) -> None:
        """Create the user's missing slots."""
        collection = BurstSlotDoc.get_pymongo_collection()
        present = await collection.count_documents({"user_id": user_id, "slot": {"$lt": slots}})
        if present >= slots:
            return
        missing = [{"user_id": user_id, "slot": k, "until_ms": 0} for k in range(slots)]
        # the slots that already existed (or that a parallel request just created) collide
        with suppress(BulkWriteError):
            await collection.insert_many(missing, ordered=False)

    async def release_burst_slot(self, *, user_id: str, claim: SlotClaim) -> None:
        """Give a claimed slot back, unless it has been claimed again since."""
        await BurstSlotDoc.get_pymongo_collection().update_one(
            {"user_id": user_id, "slot": claim.slot, "until_ms": claim.claimed_until_ms},
            {"$set": {"until_ms": claim.previous_until_ms}},
        )

    async def earliest_burst_free_ms(self, *, user_id: str, slots: int) -> int:
        rows = (
            await BurstSlotDoc.get_pymongo_collection()
            .find({"user_id": user_id, "slot": {"$lt": slots}}, projection={"until_ms": 1})
            .sort("until_ms", 1)
            .limit(1)
            .to_list()
        )
        return int(rows[0]["until_ms"]) if rows else 0

    async def take_daily(self, *, user_id: str, day: str, limit: int) -> int | None:
        """Count one more message for the day if fewer than `limit` were; the new count or None."""
        collection = DailyCounterDoc.get_pymongo_collection()
        query = {"_id": _daily_id(user_id, day), "admitted": {"$lt": limit}}
        update = {"$inc": {"admitted": 1}}
        try:
            after = await collection.find_one_and_update(
                query, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            # The counter exists and is full, or a parallel first-of-the-day upsert won the
            # insert: try once more as a plain conditional update to tell the two apart.
            after = await collection.find_one_and_update(
                query, update, return_document=ReturnDocument.AFTER
            )
        return int(after["admitted"]) if after else None

    async def give_back_daily(self, *, user_id: str, day: str) -> None:
        await DailyCounterDoc.get_pymongo_collection().update_one(
            {"_id": _daily_id(user_id, day), "admitted": {"$gt": 0}}, {"$inc": {"admitted": -1}}
        )

    async def daily_count(self, *, user_id: str, day: str) -> int:
        doc = await DailyCounterDoc.get_pymongo_collection().find_one(
            {"_id": _daily_id(user_id, day)}, projection={"admitted": 1}
        )
        return int(doc["admitted"]) if doc else 0

    async def record_refusal(self, *, user_id: str, code: str) -> None:
        await LimitRefusalDoc(user_id=user_id, code=code).insert()
