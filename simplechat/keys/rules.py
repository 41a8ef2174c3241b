"""Pure rules for keys: hashing, what is shown of a key, days, the allow-list."""

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from simplechat.keys.types import ApiKey, BudgetState, KeyCaps, KeyChanges

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


def caps_fields(caps: KeyCaps) -> dict[str, Any]:
    return {
        "expires_ms": expiry_ms(caps.expires_at),
        "models": None if caps.models is None else list(caps.models),
        "daily_cap": cap_value(caps.daily_limit),
        "max_credits": caps.max_credits,
    }


def change_fields(changes: KeyChanges, *, by_admin: bool = False) -> dict[str, Any]:
    """The stored fields `changes` sets. An admin's enabling or disabling also sets the lock
    (an admin's disable is one only an admin lifts); an owner's leaves it as it is."""
    fields: dict[str, Any] = {}
    names = changes.fields
    if "name" in names and changes.name is not None:
        fields["name"] = changes.name
    if "enabled" in names and changes.enabled is not None:
        fields["enabled"] = changes.enabled
        if by_admin:
            fields["locked"] = not changes.enabled
    if "expires_at" in names:
        fields["expires_ms"] = expiry_ms(changes.expires_at)
    if "models" in names:
        fields["models"] = None if changes.models is None else list(changes.models)
    if "daily_limit" in names:
        fields["daily_cap"] = cap_value(changes.daily_limit)
    if "max_credits" in names:
        fields["max_credits"] = changes.max_credits
    return fields


def spent(key: ApiKey, state: BudgetState | None) -> ApiKey:
    """`key` with what its budget spent and has left (a budget not opened yet: nothing)."""
    cap = key.caps.max_credits
    if cap is None:
        return key
    if state is None:
        return replace(key, credits_used=0, credits_left=cap)
    used = max(0, cap - state.available - state.on_hold)
    return replace(key, credits_used=used, credits_left=max(0, state.available))
