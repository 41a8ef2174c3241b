"""Usage records: one per priced turn, summed per (day, model) with $group/$sum."""

import contextlib
from datetime import date, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from simplechat.billing.rules import bucket_key
from simplechat.billing.types import UsageTotals
from simplechat.documents.usage_records import UsageRecordDoc
from simplechat.llm.types import Usage


class UsageRepository:
    async def record(
        self,
        *,
        reference: str,
        user_id: str,
        model: str,
        day: str,
        usage: Usage,
        cost: int,
        estimated: bool,
        now: datetime,
    ) -> None:
        """Record a turn (once: a second record of the same reference is a no-op)."""
        bucket = bucket_key(day, model)
        doc = {
            "_id": f"turn:{reference}",
            "user_id": user_id,
            "model": model,
            "day": day,
            "bucket": bucket,
            "user_bucket": f"{user_id}:{bucket}",
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cost": cost,
            "estimated": estimated,
            "created_at": now,
        }
        with contextlib.suppress(DuplicateKeyError):
            await UsageRecordDoc.get_pymongo_collection().insert_one(doc)

    async def totals(self, user_id: str, start: date, end: date) -> list[tuple[str, UsageTotals]]:
        """(bucket, totals) for each (day, model) of the user from `start` to `end` inclusive."""
        after_end = (end + timedelta(days=1)).isoformat()
        match = {
            "user_bucket": {
                "$gte": f"{user_id}:{start.isoformat()}",
                "$lt": f"{user_id}:{after_end}",
            }
        }
        return await self._grouped(match)

    async def totals_of_everyone(self, start: date, end: date) -> list[tuple[str, UsageTotals]]:
        """(bucket, totals) for each (day, model) of every user: a range of the `bucket`
        index ("<day>|<model>" sorts by day first)."""
        after_end = (end + timedelta(days=1)).isoformat()
        return await self._grouped({"bucket": {"$gte": start.isoformat(), "$lt": after_end}})

    async def _grouped(self, match: dict[str, Any]) -> list[tuple[str, UsageTotals]]:
        rows = await (
            await UsageRecordDoc.get_pymongo_collection().aggregate(
                [
                    {"$match": match},
                    {
                        "$group": {
                            "_id": "$bucket",
                            "replies": {"$sum": 1},
                            "prompt": {"$sum": "$prompt_tokens"},
                            "completion": {"$sum": "$completion_tokens"},
                            "cost": {"$sum": "$cost"},
                        }
                    },
                ]
            )
        ).to_list()
        return [
            (
                str(r["_id"]),
                UsageTotals(
                    int(r["replies"]), int(r["prompt"]), int(r["completion"]), int(r["cost"])
                ),
            )
            for r in rows
        ]

    async def delete_owner(self, user_id: str) -> None:
        """A deleted user's usage records (a range of the `user_bucket` index)."""
        await UsageRecordDoc.get_pymongo_collection().delete_many(
            {"user_bucket": {"$gte": f"{user_id}:", "$lt": f"{user_id};"}}
        )
