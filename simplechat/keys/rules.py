"""Pure rules for keys: hashing, what is shown of a key, days, the allow-list."""

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

KEY_PREFIX = "sk-sc-"
SHOWN_CHARS = 12  # "sk-sc-" and 6 random characters: enough to tell keys apart
NO_EXPIRY_MS = 2**62
NO_CAP = 2**62
LAST4 = 4


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def shown_prefix(secret: str) -> str:
    return secret[:SHOWN_CHARS]


def day_key(now: datetime, tz: ZoneInfo) -> int:
    """The day a request counts on, in the server's time zone (as the limits count), as its
    ordinal: days only grow, so "a new day" is one `$lt` (and the embedded server mismatches
    `$in`/`$nin` on date-like strings in find_one_and_update)."""
    return now.astimezone(tz).date().toordinal()


def to_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def expiry_ms(expires_at: datetime | None) -> int:
    return NO_EXPIRY_MS if expires_at is None else to_ms(expires_at)


def cap_value(daily_limit: int | None) -> int:
    return NO_CAP if daily_limit is None else daily_limit


def model_allowed(models: tuple[str, ...] | None, model: str) -> bool:
    return models is None or model in models


def last4(secret: str) -> str:
    return secret[-LAST4:]
