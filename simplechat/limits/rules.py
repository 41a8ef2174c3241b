"""The per-user limit policy: pure arithmetic on times, no I/O and no clock.

Two limits apply to every chat request: at most `daily` messages per local day (in the
configured timezone) and at most `burst` messages in any `burst_window_seconds` (a sliding
window, not fixed buckets).

The sliding window is kept as `burst` slots per user, each holding the time of the message
that last claimed it. A request may claim a slot whose time is at least one window old. That
is exactly the sliding-window rule: if `burst` messages were admitted in the last window,
every slot is recent; if fewer were, at least one slot is free.

An admin may give one user other limits (overrides, stored with the counters): `plan` then
applies those instead of the configured ones, and the conditional update also checks that the
overrides are still the ones it planned with.

`plan` decides from a snapshot of the user's state which conditional update to try; the
database applies it only if the state still allows it (see limits/repository.py), so the
decision and the record stay one atomic step.
"""

import math
import random
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAILY_LIMIT_CODE = "daily_limit"
BURST_LIMIT_CODE = "burst_limit"
NO_OVERRIDE = -1  # stored instead of an override: the configured limit applies
MAX_DAILY_OVERRIDE = 1_000_000
MAX_BURST_OVERRIDE = 100  # one counter field per allowed message, like the setting


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    daily: int
    burst: int
    burst_window_seconds: int
    timezone: ZoneInfo

    @property
    def burst_window_ms(self) -> int:
        return self.burst_window_seconds * 1000


@dataclass(frozen=True, slots=True)
class LimitState:
    """A user's counters as stored: the day of `count`, one time (epoch ms) per slot, and the
    user's own limits (NO_OVERRIDE when the configured ones apply)."""

    day: str
    count: int
    slots: tuple[int, ...]
    daily_override: int = NO_OVERRIDE
    burst_override: int = NO_OVERRIDE


def effective_policy(policy: LimitPolicy, state: LimitState) -> LimitPolicy:
    """The limits that apply to this user: the overrides where there are, else the policy."""
    daily = state.daily_override if state.daily_override >= 0 else policy.daily
    burst = state.burst_override if state.burst_override >= 1 else policy.burst
    return replace(policy, daily=daily, burst=burst)


def override_problem(*, daily: int | None, burst: int | None) -> str | None:
    """Why per-user limits are not acceptable (None clears an override)."""
    if daily is not None and not 0 <= daily <= MAX_DAILY_OVERRIDE:
        return f"daily_limit must be between 0 and {MAX_DAILY_OVERRIDE} (or null)."
    if burst is not None and not 1 <= burst <= MAX_BURST_OVERRIDE:
        return f"burst_limit must be between 1 and {MAX_BURST_OVERRIDE} (or null)."
    return None


@dataclass(frozen=True, slots=True)
class Claim:
    """Try to take `slot` (free since `slot_free_before` ms) and count one message on `day`."""

    slot: int
    day: str
    same_day: bool  # count += 1 on `day`; otherwise start `day` at 1, replacing `previous_day`
    previous_day: str


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    limit: int
    retry_after: int


_RANDOM = random.Random()


def plan(
    state: LimitState, now: datetime, policy: LimitPolicy, rng: random.Random = _RANDOM
) -> Claim | Refusal:
    """What to claim for a message at `now`, or why the limits refuse it.

    Among free slots one is picked at random, so parallel requests rarely race for the same
    one (a lost race only costs a retry). Slots missing from `state` count as free. The
    user's overrides, if any, replace the policy's limits.
    """
    policy = effective_policy(policy, state)
    now_ms = to_ms(now)
    slots = (*state.slots, *([0] * (policy.burst - len(state.slots))))[: policy.burst]
    free_before = now_ms - policy.burst_window_ms
    free = [index for index, time_ms in enumerate(slots) if time_ms <= free_before]
    if not free:
        retry_after = burst_retry_after(now_ms, min(slots) + policy.burst_window_ms)
        return Refusal(BURST_LIMIT_CODE, policy.burst, retry_after)
    day = day_key(now, policy.timezone)
    same_day = state.day == day
    if same_day and state.count >= policy.daily:
        resets = next_day_start(now, policy.timezone)
        return Refusal(DAILY_LIMIT_CODE, policy.daily, seconds_until(now, resets))
    slot = rng.choice(free)
    return Claim(slot=slot, day=day, same_day=same_day, previous_day=state.day)


def used_today(state: LimitState, now: datetime, tz: ZoneInfo) -> int:
    return state.count if state.day == day_key(now, tz) else 0


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
