"""The per-user limit policy: pure arithmetic on times, no I/O and no clock.

Two limits apply to every chat request: at most `daily` messages per local day (in the
configured timezone) and at most `burst` messages in any `burst_window_seconds` (a sliding
window, not fixed buckets).

The sliding window is kept as `burst` slots per user, each busy until one window after the
message that claimed it. A request is admitted when some slot is free. That is exactly the
sliding-window rule: if `burst` messages were admitted in the last window, every slot is still
busy; if fewer were, at least one slot is free.
"""

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAILY_LIMIT_CODE = "daily_limit"
BURST_LIMIT_CODE = "burst_limit"


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    daily: int
    burst: int
    burst_window_seconds: int
    timezone: ZoneInfo

    @property
    def burst_window_ms(self) -> int:
        return self.burst_window_seconds * 1000


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return math.floor(moment.timestamp() * 1000)


def day_key(now: datetime, tz: ZoneInfo) -> str:
    """The local calendar day of `now` in `tz`, as YYYY-MM-DD."""
    return now.astimezone(tz).date().isoformat()


def next_day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """The first instant of the next local day (right across DST changes)."""
    tomorrow = now.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time.min, tzinfo=tz)


def seconds_until(now: datetime, then: datetime) -> int:
    """Whole seconds from `now` until `then`, rounded up, at least 1."""
    return max(1, math.ceil((then - now).total_seconds()))


def burst_retry_after(now_ms: int, earliest_free_ms: int) -> int:
    """Seconds until the earliest burst slot frees up, rounded up, at least 1."""
    return max(1, math.ceil((earliest_free_ms - now_ms) / 1000))


def daily_refusal_message(policy: LimitPolicy) -> str:
    return (
        f"Daily message limit reached: {policy.daily} messages per day. "
        "The count resets at midnight."
    )


def burst_refusal_message(policy: LimitPolicy) -> str:
    return (
        f"Too many messages: at most {policy.burst} in any "
        f"{policy.burst_window_seconds} seconds. Wait a moment and try again."
    )
