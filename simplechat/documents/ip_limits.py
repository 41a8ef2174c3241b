"""The `ip_limits` collection: per-IP request counters shared by every worker and instance.

One document per limit and client address: `{"_id": key, "hits", "exp_ms", "expire_at"}`.
`exp_ms` (epoch ms) ends the window and is what the code compares; `expire_at` is the same
moment as a date, only for the TTL index that removes old windows on MongoDB.
"""

from datetime import datetime

from beanie import Document
from pymongo import ASCENDING, IndexModel


class IpLimitDoc(Document):
    id: str  # type: ignore[assignment]  # the limit's key: "<limit>/<scope>/<address>"
    hits: int
    exp_ms: int
    expire_at: datetime

    class Settings:
        name = "ip_limits"
        indexes = [IndexModel([("expire_at", ASCENDING)], expireAfterSeconds=0, name="ttl")]
