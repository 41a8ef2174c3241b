"""The `ledger` collection: every change of a balance, with why.

`_id` is the entry's key, unique by construction ("signup:<user>", "redeem:<code>",
"charge:<hold>", "admin:<id>"), so writing an entry twice (a retry, the sweeper) keeps one.
`user_key` ("<user>:<13-digit epoch ms>:<key>") pages one user's entries newest first as a
range of one single-field index (the embedded server uses no compound index).
"""

from datetime import datetime

from beanie import Document
from pymongo import ASCENDING, IndexModel


class LedgerDoc(Document):
    id: str  # type: ignore[assignment]  # the entry's key
    user_id: str
    kind: str  # signup | redeem | charge | refund | admin
    delta: int  # units of 1/10,000 credit
    reference: str | None = None
    note: str | None = None
    by: str | None = None
    at_ms: int
    created_at: datetime
    user_key: str

    class Settings:
        name = "ledger"
        indexes = [IndexModel([("user_key", ASCENDING)], name="user_key")]
