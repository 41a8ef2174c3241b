"""The `redeem_codes` collection: one document per code (`_id` = the code's SHA-256, `prefix`
its first 4 symbols; codes made before codes were stored hashed have the code itself as `_id`).

`status` is unused, used or disabled (expired is derived: unused past `expires_ms`; no expiry
is stored as year 9999 so ranges work). Using a code is one conditional update from unused
to used; `credit_due` stays true until the credit is in the user's account, so a crash between
the two is found and finished (by the sweeper, or the next attempt at the code). Times that are
rewritten are epoch milliseconds (the embedded server turns dates set by find_one_and_update
into strings).
"""

from datetime import datetime

from beanie import Document
from pymongo import ASCENDING, IndexModel


class RedeemCodeDoc(Document):
    id: str  # type: ignore[assignment]  # the code's SHA-256 hex (older codes: the code)
    prefix: str = ""  # the code's first symbols, shown to tell codes apart
    credits: int  # units
    status: str = "unused"
    note: str | None = None
    created_at: datetime
    created_ms: int
    created_by: str
    expires_ms: int
    used_by: str | None = None
    used_by_name: str | None = None
    used_ms: int | None = None
    credit_due: bool = False
    disabled_by: str | None = None
    disabled_ms: int | None = None

    class Settings:
        name = "redeem_codes"
        indexes = [
            IndexModel([("status", ASCENDING)], name="status"),
            IndexModel([("created_ms", ASCENDING)], name="created_ms"),
            IndexModel([("credit_due", ASCENDING)], name="credit_due"),
        ]
