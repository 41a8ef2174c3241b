"""The `holds` collection: credits reserved for turns in flight, so the sweeper can find the
holds a dead worker left behind (by `created_ms`). A hold's money is in its account
(`credit_accounts.holds`/`on_hold`); this document only says it exists and since when, and is
deleted once the hold is settled or released."""

from beanie import Document
from pymongo import ASCENDING, IndexModel


class HoldDoc(Document):
    id: str  # type: ignore[assignment]  # an ObjectId's hex
    user_id: str
    model: str
    amount: int
    reference: str
    created_ms: int

    class Settings:
        name = "holds"
        indexes = [IndexModel([("created_ms", ASCENDING)], name="created_ms")]
