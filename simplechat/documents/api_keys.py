"""The `api_keys` collection: personal API keys (`sk-sc-...`), stored as a SHA-256 only.

`day` and `day_count` are the key's own daily counter (the day as the limits write it, in the
server's time zone): one conditional update checks the key is enabled, unexpired and under
its cap, and counts the request. `expires_ms` and `daily_cap` hold a far-away sentinel when
the key has no expiry or no cap, so that the filter is one plain comparison either way.
"""

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from simplechat.documents.base import utcnow


class ApiKeyDoc(Document):
    key_hash: str  # sha256 hex of the whole key; the key itself is never stored
    prefix: str  # the first characters, shown to tell keys apart
    user_id: str  # hex: see DEVELOPERS.md on ObjectId fields
    name: str
    enabled: bool = True
    # Disabled by an admin: only an admin enables it again (older documents lack the field;
    # filtered as `$nin: [True]`, which matches missing and false on every server).
    locked: bool = False
    expires_ms: int  # epoch ms; NO_EXPIRY_MS when the key does not expire
    models: list[str] | None = None  # the allow-list; None: every model
    daily_cap: int  # requests a day; NO_CAP when unlimited
    max_credits: int | None = None  # credits (1/10,000) the key may spend in all
    day: int = 0  # the date's ordinal (keys.rules.day_key)
    day_count: int = 0  # requests counted on `day`
    uses: int = 0  # requests in all
    last_used_ms: int | None = None
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "api_keys"
        indexes = [
            IndexModel([("key_hash", ASCENDING)], unique=True, name="key_hash_unique"),
            IndexModel([("user_id", ASCENDING)], name="user"),
        ]
