"""Budgets: capped sub-accounts in `credit_accounts` (a personal API key's `max_credits`).

A budget is a credit account like a user's (`_id` = its account id, e.g. `key:<key id>`), so
holds, settlements, releases and the sweeper work on it unchanged; this module adds only what
a budget does that a user's account does not: move its cap (one `$inc`), and read many.
"""

from collections.abc import Sequence

from simplechat.billing.types import Balance
from simplechat.documents.credit_accounts import CreditAccountDoc


class BudgetRepository:
    async def change(self, account_id: str, delta: int) -> bool:
        """Add `delta` (negative: take) to what the budget has available, in one update; it
        may go below zero (a cap lowered under what was spent): holds then refuse."""
        result = await CreditAccountDoc.get_pymongo_collection().update_one(
            {"_id": account_id}, {"$inc": {"available": delta}}
        )
        return result.matched_count == 1

    async def find_many(self, account_ids: Sequence[str]) -> dict[str, Balance]:
        if not account_ids:
            return {}
        cursor = CreditAccountDoc.get_pymongo_collection().find(
            {"_id": {"$in": list(account_ids)}}, projection={"available": 1, "on_hold": 1}
        )
        return {
            str(doc["_id"]): Balance(
                str(doc["_id"]), int(doc.get("available", 0)), int(doc.get("on_hold", 0))
            )
            async for doc in cursor
        }
