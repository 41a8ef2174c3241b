"""The `usage_records` collection: one document per priced turn (`_id` = "turn:<reference>",
so recording a turn twice keeps one), for `GET /user/usage`.

`user_bucket` ("<user>:<day>|<model>") selects a user's days as a range of one index;
`bucket` ("<day>|<model>") selects everyone's days (GET /admin/usage) as a range of another, and
is what usage is grouped on (the embedded server has neither $dateToString nor compound $group
keys). Days are local days in the configured timezone, computed in Python when the turn is
recorded.
"""

from datetime import datetime

from beanie import Document
from pymongo import ASCENDING, IndexModel


class UsageRecordDoc(Document):
    id: str  # type: ignore[assignment]
    user_id: str
    model: str
    day: str
    bucket: str
    user_bucket: str
    prompt_tokens: int
    completion_tokens: int
    cost: int  # units: the turn's priced cost (what the balance paid is in the ledger)
    estimated: bool = False
    created_at: datetime

    class Settings:
        name = "usage_records"
        indexes = [
            IndexModel([("user_bucket", ASCENDING)], name="user_bucket"),
            IndexModel([("bucket", ASCENDING)], name="bucket"),  # every user's days (admins)
        ]
