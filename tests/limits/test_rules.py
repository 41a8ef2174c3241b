"""The limit policy as pure arithmetic: tables, no database, no clock."""

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from simplechat.limits.rules import (
    Claim,
    LimitPolicy,
    LimitState,
    Refusal,
    day_key,
    effective_policy,
    next_day_start,
    override_problem,
    plan,
    to_ms,
    used_today,
)

UTC_ZONE = ZoneInfo("UTC")
POLICY = LimitPolicy(daily=20, burst=3, burst_window_seconds=30, timezone=UTC_ZONE)
NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
NOW_MS = to_ms(NOW)


def state(*slots_ago: float | None, day: str = "2026-11-21", count: int = 0) -> LimitState:
    """Slots given as seconds ago (None: never used)."""
    return LimitState(
        day=day,
        count=count,
        slots=tuple(0 if s is None else NOW_MS - int(s * 1000) for s in slots_ago),
    )


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (state(None, None, None), "claim"),
        (state(1, 2, None), "claim"),
        (state(1, 2, 30), "claim"),  # exactly one window ago is free again
        (state(1, 2, 29.999), "burst_limit"),
        (state(1, 2, 3), "burst_limit"),
        (state(None, None, None, count=19), "claim"),
        (state(None, None, None, count=20), "daily_limit"),
        (state(None, None, None, day="2026-11-20", count=20), "claim"),  # a new day
        (state(None, None), "claim"),  # a missing slot (raised burst limit) is free
    ],
)
def test_plan(current: LimitState, expected: str) -> None:
    decision = plan(current, NOW, POLICY)
    if expected == "claim":
        assert isinstance(decision, Claim)
    else:
        assert isinstance(decision, Refusal)
        assert decision.code == expected


def test_claim_picks_only_free_slots() -> None:
    rng = random.Random(7)
    for _ in range(50):
        decision = plan(state(1, None, 5), NOW, POLICY, rng)
        assert isinstance(decision, Claim)
        assert decision.slot == 1


def test_new_day_claim_replaces_the_day_it_saw() -> None:
    decision = plan(state(None, day="2026-11-20", count=20), NOW, POLICY)
    assert isinstance(decision, Claim)
    assert decision.same_day is False
    assert decision.previous_day == "2026-11-20"
    assert decision.day == "2026-11-21"


def test_burst_retry_after_is_when_the_oldest_slot_frees() -> None:
    decision = plan(state(12, 5, 1), NOW, POLICY)
    assert isinstance(decision, Refusal)
    assert decision.retry_after == 18


def test_daily_retry_after_is_local_midnight() -> None:
    tokyo = LimitPolicy(daily=1, burst=3, burst_window_seconds=30, timezone=ZoneInfo("Asia/Tokyo"))
    late = datetime(2026, 11, 21, 14, 59, 30, tzinfo=UTC)  # 23:59:30 in Tokyo
    decision = plan(LimitState("2026-11-21", 1, (0, 0, 0)), late, tokyo)
    assert isinstance(decision, Refusal)
    assert decision.retry_after == 30


@pytest.mark.parametrize(
    ("moment", "zone", "day"),
    [
        (datetime(2026, 11, 21, 23, 30, tzinfo=UTC), "UTC", "2026-11-21"),
        (datetime(2026, 11, 21, 23, 30, tzinfo=UTC), "Asia/Tokyo", "2026-11-22"),
        (datetime(2026, 11, 21, 3, 0, tzinfo=UTC), "America/New_York", "2026-11-20"),
    ],
)
def test_day_key(moment: datetime, zone: str, day: str) -> None:
    assert day_key(moment, ZoneInfo(zone)) == day


def test_next_day_start_across_dst() -> None:
    # 2026-03-08: New York springs forward; the next midnight is still local midnight
    moment = datetime(2026, 3, 8, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    start = next_day_start(moment, ZoneInfo("America/New_York"))
    assert start.isoformat() == "2026-03-09T00:00:00-04:00"
    assert start - moment == timedelta(hours=12)


def test_used_today() -> None:
    assert used_today(state(day="2026-11-21", count=4), NOW, UTC_ZONE) == 4
    assert used_today(state(day="2026-11-20", count=4), NOW, UTC_ZONE) == 0


@pytest.mark.parametrize(
    ("daily", "burst", "expected"),
    [
        (-1, -1, (20, 3)),
        (5, -1, (5, 3)),
        (0, -1, (0, 3)),  # zero messages a day: blocked from chatting
        (-1, 10, (20, 10)),
        (7, 1, (7, 1)),
    ],
)
def test_effective_policy(daily: int, burst: int, expected: tuple[int, int]) -> None:
    current = LimitState(day="", count=0, slots=(), daily_override=daily, burst_override=burst)
    effective = effective_policy(POLICY, current)
    assert (effective.daily, effective.burst) == expected
    assert effective.burst_window_seconds == POLICY.burst_window_seconds


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (replace(state(None, None, None, count=5), daily_override=5), "daily_limit"),
        (replace(state(None, None, None, count=4), daily_override=5), "claim"),
        (replace(state(None, None, None, count=25), daily_override=30), "claim"),
        (replace(state(None, None, None), daily_override=0), "daily_limit"),
        (replace(state(1, 2, 3), burst_override=4), "claim"),  # a fourth slot, missing: free
        (replace(state(1, 2, 3, None), burst_override=2), "burst_limit"),
    ],
)
def test_plan_applies_the_users_own_limits(current: LimitState, expected: str) -> None:
    decision = plan(current, NOW, POLICY, random.Random(1))
    assert (decision.code if isinstance(decision, Refusal) else "claim") == expected


@pytest.mark.parametrize(
    ("daily", "burst", "ok"),
    [
        (None, None, True),
        (0, 1, True),
        (1_000_000, 100, True),
        (-1, None, False),
        (None, 0, False),
        (None, 101, False),
        (1_000_001, None, False),
    ],
)
def test_override_problem(daily: int | None, burst: int | None, ok: bool) -> None:
    assert (override_problem(daily=daily, burst=burst) is None) is ok
