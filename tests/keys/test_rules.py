"""The keys' pure rules, as tables."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from simplechat.keys.rules import (
    NO_CAP,
    NO_EXPIRY_MS,
    cap_value,
    day_key,
    expiry_ms,
    key_hash,
    last4,
    model_allowed,
    shown_prefix,
)

SECRET = "sk-sc-AbCdEf0123456789"


@pytest.mark.parametrize(
    ("models", "model", "allowed"),
    [
        (None, "anything", True),
        (("mock",), "mock", True),
        (("mock",), "qwen-plus", False),
        (("a", "b"), "b", True),
        (("Mock",), "mock", False),  # names are exact
    ],
)
def test_model_allowed(models: tuple[str, ...] | None, model: str, allowed: bool) -> None:
    assert model_allowed(models, model) is allowed


@pytest.mark.parametrize(
    ("now", "zone", "day"),
    [
        (datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "UTC", date(2026, 11, 25)),
        (datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "Asia/Shanghai", date(2026, 11, 26)),
        (datetime(2026, 11, 25, 3, 0, tzinfo=UTC), "America/New_York", date(2026, 11, 24)),
    ],
)
def test_day_key_is_the_servers_local_day(now: datetime, zone: str, day: date) -> None:
    assert day_key(now, ZoneInfo(zone)) == day.toordinal()


@pytest.mark.parametrize(
    ("given", "stored"),
    [(None, NO_CAP), (0, 0), (3, 3)],
)
def test_cap_value(given: int | None, stored: int) -> None:
    assert cap_value(given) == stored


def test_expiry_ms() -> None:
    assert expiry_ms(None) == NO_EXPIRY_MS
    assert expiry_ms(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1000


def test_what_is_kept_of_a_key() -> None:
    assert key_hash(SECRET) == key_hash(SECRET)
    assert len(key_hash(SECRET)) == 64
    assert SECRET not in key_hash(SECRET)
    assert shown_prefix(SECRET) == "sk-sc-AbCdEf"
    assert last4("sk-or-v1-abcd1234") == "1234"
