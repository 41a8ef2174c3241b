"""ReportRepository: the numbers behind the behaviour report, computed in MongoDB.

Counts and sums use `$group` with `$sum` (correct on both servers). Per-day and per-hour
buckets need the user's timezone and `$dateToString`/`$min`/`$max` on dates are wrong on the
embedded server, so only the message times are fetched (projected, at most a few per day under
the daily limit) and bucketed in `reports/rules.py`.
"""

from dataclasses import dataclass
from datetime import datetime

from simplechat.documents.limit_refusals import LimitRefusalDoc
from simplechat.documents.messages import MessageDoc


@dataclass(frozen=True, slots=True)
class KindTotals:
    messages: int
    chars: int
    tokens: int


@dataclass(frozen=True, slots=True)
class UsageTotals:
    replies: int
    prompt_tokens: int
    completion_tokens: int


class ReportRepository:
    async def kinds(self, owner_id: str) -> dict[str, KindTotals]:
        rows = await (
            await MessageDoc.get_pymongo_collection().aggregate(
                [
                    {"$match": {"owner_id": owner_id, "role": "user"}},
                    {
                        "$group": {
                            "_id": "$kind",
                            "messages": {"$sum": 1},
                            "chars": {"$sum": "$chars"},
                            "tokens": {"$sum": "$tokens"},
                        }
                    },
                ]
            )
        ).to_list()
        return {
            str(r["_id"]): KindTotals(int(r["messages"]), int(r["chars"] or 0), int(r["tokens"]))
            for r in rows
        }

    async def usage(self, owner_id: str) -> UsageTotals:
        rows = await (
            await MessageDoc.get_pymongo_collection().aggregate(
                [
                    {"$match": {"owner_id": owner_id, "role": "assistant"}},
                    {
                        "$group": {
                            "_id": None,
                            "replies": {"$sum": 1},
                            "prompt": {"$sum": "$usage.prompt_tokens"},
                            "completion": {"$sum": "$usage.completion_tokens"},
                        }
                    },
                ]
            )
        ).to_list()
        if not rows:
            return UsageTotals(0, 0, 0)
        row = rows[0]
        return UsageTotals(
            int(row["replies"]), int(row["prompt"] or 0), int(row["completion"] or 0)
        )

    async def message_times(self, owner_id: str) -> list[datetime]:
        cursor = MessageDoc.get_pymongo_collection().find(
            {"owner_id": owner_id, "role": "user"}, projection={"created_at": 1, "_id": 0}
        )
        return [doc["created_at"] async for doc in cursor]

    async def last_message_at(self, owner_id: str) -> datetime | None:
        """When the owner last sent a message (a range of the single-field history key)."""
        doc = await MessageDoc.get_pymongo_collection().find_one(
            {"history_key": {"$gte": f"{owner_id}:", "$lt": f"{owner_id};"}, "role": "user"},
            projection={"created_at": 1},
            sort=[("history_key", -1)],
        )
        return doc["created_at"] if doc else None

    async def refusals(self, user_id: str) -> dict[str, int]:
        rows = await (
            await LimitRefusalDoc.get_pymongo_collection().aggregate(
                [{"$match": {"user_id": user_id}}, {"$group": {"_id": "$code", "n": {"$sum": 1}}}]
            )
        ).to_list()
        return {str(r["_id"]): int(r["n"]) for r in rows}
