"""Billing arithmetic and code formats as tables: no database, no clock."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from simplechat.billing.rules import (
    CODE_LENGTH,
    NO_EXPIRY_MS,
    bucket_key,
    bucket_usage,
    charge_for,
    code_status,
    cost,
    cost_units,
    day_key,
    default_usage_range,
    encode_code,
    expires_at,
    format_code,
    media_cost_units,
    normalize_code,
    to_credits,
    to_units,
    usage_range_problem,
    window_start_ms,
)
from simplechat.billing.types import CodeStatus, UsageTotals
from simplechat.llm.pricing import MediaPrice, Price, Tier, tier_problems

D = Decimal
SIMPLE = Price.simple(D("0.8"), D("2"))
TIERED = Price(
    (
        Tier(0, 32_000, D("1"), D("2")),
        Tier(32_000, 128_000, D("2"), D("4")),
        Tier(128_000, None, D("3"), D("6")),
    )
)


@pytest.mark.parametrize(
    ("prompt", "completion", "expected"),
    [
        (0, 0, "0.0000"),
        (1000, 1000, "2.8000"),
        (1, 1, "0.0028"),
        (123, 45, "0.1884"),  # (123 × 0.8 + 45 × 2) / 1000
        (1_000_000, 0, "800.0000"),
        (0, 7, "0.0140"),
    ],
)
def test_simple_price(prompt: int, completion: int, expected: str) -> None:
    assert str(cost(SIMPLE, prompt, completion)) == expected


@pytest.mark.parametrize(
    ("price_per_1k", "tokens", "expected"),
    [
        ("0.05", 1, "0.0001"),  # 0.00005: half rounds up
        ("0.049", 1, "0.0000"),  # 0.000049: down
        ("0.05", 3, "0.0002"),  # 0.00015: up
        ("0.05", 5, "0.0003"),  # 0.00025: up (half-even would give 0.0002)
        ("0.05", 7, "0.0004"),  # 0.00035
        ("0.0499999", 10, "0.0005"),  # 0.000499999: the fifth place decides, once, at the end
        ("0.04444", 3, "0.0001"),  # 0.00013332
    ],
)
def test_rounding_half_up_at_the_fourth_place(
    price_per_1k: str, tokens: int, expected: str
) -> None:
    price = Price.simple(D(price_per_1k), D(0))
    assert str(cost(price, tokens, 0)) == expected


@pytest.mark.parametrize(
    ("prompt", "tier_input"),
    [
        (0, "1"),
        (1, "1"),
        (31_999, "1"),
        (32_000, "2"),  # a tier covers from <= prompt < to
        (32_001, "2"),
        (127_999, "2"),
        (128_000, "3"),
        (10_000_000, "3"),  # the last tier is open
    ],
)
def test_tier_boundaries(prompt: int, tier_input: str) -> None:
    assert TIERED.tier_for(prompt).input == D(tier_input)


@pytest.mark.parametrize(
    ("prompt", "completion", "expected"),
    [
        (31_999, 100, "32.1990"),  # (31999 × 1 + 100 × 2) / 1000
        (32_000, 100, "64.4000"),  # the whole turn at tier 2's prices, not marginally
        (128_000, 1, "384.0060"),
    ],
)
def test_tiered_price(prompt: int, completion: int, expected: str) -> None:
    assert str(cost(TIERED, prompt, completion)) == expected


def test_units() -> None:
    assert to_units(D("1.23456")) == 12346
    assert to_units(D("1.23454")) == 12345
    assert to_units(D("0.00005")) == 1
    assert to_units(D(10)) == 100_000
    assert str(to_credits(0)) == "0.0000"
    assert str(to_credits(12346)) == "1.2346"
    assert str(to_credits(-40)) == "-0.0040"
    assert cost_units(SIMPLE, 123, 45) == 1884
    assert cost_units(None, 10**6, 10**6) == 0  # a model without a price is free


@pytest.mark.parametrize(
    ("cost_units_", "held", "charged"),
    [(30, 40, 30), (40, 40, 40), (50, 40, 40), (0, 40, 0)],
)
def test_a_charge_never_exceeds_the_hold(cost_units_: int, held: int, charged: int) -> None:
    assert charge_for(cost_units_, held) == charged


def tiers(*ranges: tuple[int, int | None]) -> tuple[Tier, ...]:
    return tuple(Tier(a, b, D(1), D(1)) for a, b in ranges)


@pytest.mark.parametrize(
    ("given", "problems"),
    [
        (tiers((0, None)), []),
        (tiers((0, 10), (10, None)), []),
        ((), ["a tiered price needs at least one tier"]),
        (tiers((5, None)), ["the first tier must start at 0, not 5"]),
        (
            tiers((0, 10), (12, None)),
            ["tier 2 must start at 10, where tier 1 ends (a gap otherwise)"],
        ),
        (
            tiers((0, 10), (8, None)),
            ["tier 2 must start at 10, where tier 1 ends (an overlap otherwise)"],
        ),
        (tiers((0, None), (10, None)), ["tier 1: only the last tier may be open (give 'to')"]),
        (tiers((0, 10)), ["tier 1: the last tier must be open (leave out 'to')"]),
        (
            tiers((0, 10), (10, 10), (10, None)),
            ["tier 2: 'to' (10) must be above 'from'"],
        ),
        ((Tier(0, None, D(-1), D(1)),), ["tier 1: prices cannot be negative"]),
    ],
)
def test_tier_validation(given: tuple[Tier, ...], problems: list[str]) -> None:
    assert tier_problems(given) == problems


def test_codes_encode_to_28_symbols_in_groups_of_four() -> None:
    assert encode_code(0) == "0" * CODE_LENGTH
    assert encode_code(32**CODE_LENGTH - 1) == "Z" * CODE_LENGTH
    assert encode_code(31) == "0" * 27 + "Z"
    code = encode_code(2**139 + 12345)
    shown = format_code(code)
    assert shown.count("-") == 6
    assert all(len(group) == 4 for group in shown.split("-"))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("K7Q2-9XMB-4RTA-H3VZ-0PCN-W8EJ-6DFS", "K7Q29XMB4RTAH3VZ0PCNW8EJ6DFS"),
        ("k7q2 9xmb 4rta h3vz 0pcn w8ej 6dfs", "K7Q29XMB4RTAH3VZ0PCNW8EJ6DFS"),
        (" K7Q29XMB4RTAH3VZ0PCNW8EJ6DFS\n", "K7Q29XMB4RTAH3VZ0PCNW8EJ6DFS"),
        ("K7Q2-9XMB-4RTA-H3VZ-OPCN-W8EJ-6DFS", "K7Q29XMB4RTAH3VZ0PCNW8EJ6DFS"),  # O read as 0
        ("I1L1-0000-0000-0000-0000-0000-0000", "1111" + "0" * 24),  # I and L read as 1
        ("K7Q2-9XMB", None),  # too short
        ("U" * CODE_LENGTH, None),  # U is not in the alphabet
        ("", None),
    ],
)
def test_normalize_code(typed: str, stored: str | None) -> None:
    assert normalize_code(typed) == stored


@pytest.mark.parametrize(
    ("stored", "expires_ms", "now_ms", "status"),
    [
        ("unused", NO_EXPIRY_MS, 10**13, CodeStatus.UNUSED),
        ("unused", 1000, 999, CodeStatus.UNUSED),
        ("unused", 1000, 1000, CodeStatus.EXPIRED),
        ("used", 1000, 5000, CodeStatus.USED),  # used before it expired: stays used
        ("disabled", 1000, 5000, CodeStatus.DISABLED),
    ],
)
def test_code_status(stored: str, expires_ms: int, now_ms: int, status: CodeStatus) -> None:
    assert code_status(stored, expires_ms, now_ms) is status


def test_no_expiry_reads_as_none() -> None:
    assert expires_at(NO_EXPIRY_MS) is None
    assert expires_at(1_800_000_000_000) == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


def test_days_and_windows() -> None:
    late = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)
    assert day_key(late, ZoneInfo("UTC")) == "2026-11-21"
    assert day_key(late, ZoneInfo("Asia/Shanghai")) == "2026-11-22"
    assert window_start_ms(3_700_000, 3_600_000) == 3_600_000
    assert window_start_ms(3_600_000, 3_600_000) == 3_600_000
    assert default_usage_range(date(2026, 11, 30), 30) == (date(2026, 11, 1), date(2026, 11, 30))
    assert usage_range_problem(date(2026, 1, 2), date(2026, 1, 1), 366) is not None
    assert usage_range_problem(date(2026, 1, 1), date(2026, 12, 31), 365) is None
    assert usage_range_problem(date(2026, 1, 1), date(2027, 1, 1), 365) is not None


def test_bucket_usage_sums_per_day_per_model_and_overall() -> None:
    rows = [
        (bucket_key("2026-11-21", "qwen-plus"), UsageTotals(2, 100, 50, 30)),
        (bucket_key("2026-11-20", "qwen-plus"), UsageTotals(1, 10, 5, 3)),
        (bucket_key("2026-11-21", "a|b"), UsageTotals(1, 1, 1, 1)),  # a model name with a bar
    ]
    buckets = bucket_usage(rows)
    assert list(buckets.by_day) == ["2026-11-20", "2026-11-21"]
    assert buckets.by_day["2026-11-21"] == UsageTotals(3, 101, 51, 31)
    assert buckets.by_model == {
        "a|b": UsageTotals(1, 1, 1, 1),
        "qwen-plus": UsageTotals(3, 110, 55, 33),
    }
    assert buckets.by_day_model[("2026-11-21", "a|b")] == UsageTotals(1, 1, 1, 1)
    assert buckets.total == UsageTotals(4, 111, 56, 34)


@pytest.mark.parametrize(
    ("price", "speech_ms", "pictures", "units"),
    [
        (None, 60_000, 0, 0),  # an engine without a price is free
        (MediaPrice(per_picture=Decimal("0.5")), 0, 1, 5_000),
        (MediaPrice(per_picture=Decimal("0.5")), 0, 3, 15_000),
        (MediaPrice(per_picture=Decimal(0)), 0, 1, 0),
        (MediaPrice(per_second=Decimal("0.01")), 1_890, 0, 189),  # 1.89 s: to the millisecond
        (MediaPrice(per_second=Decimal("0.01")), 600_000, 0, 60_000),  # 10 minutes
        (MediaPrice(per_second=Decimal("0.0001")), 1_500, 0, 2),  # 0.00015 -> 0.0002 (half up)
        (MediaPrice(per_second=Decimal("0.0001")), 1_499, 0, 1),  # 0.0001499 -> 0.0001
        (MediaPrice(per_second=Decimal("0.0001")), 400, 0, 0),  # 0.00004 -> 0
        (MediaPrice(per_second=Decimal("0.01")), 0, 1, 0),  # a speech price on a picture
        (MediaPrice(per_picture=Decimal("0.5")), 5_000, 0, 0),  # a picture price on speech
    ],
)
def test_media_cost(price: MediaPrice | None, speech_ms: int, pictures: int, units: int) -> None:
    assert media_cost_units(price, speech_ms=speech_ms, pictures=pictures) == units
