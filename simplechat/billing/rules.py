"""Billing arithmetic and code formats: pure, no I/O, no clock, no settings.

Money is `Decimal` while computed and an integer of 1/10,000 credit ("units") when stored: the
requirement's 4 decimal places, exact on every MongoDB (the embedded server has no Decimal128).
A turn's cost is `(prompt_tokens × input + completion_tokens × output) / 1000`, at the prices
of the tier chosen by the prompt's token count, rounded half-up to 4 places once, at the end.
A recording costs its seconds (to the millisecond) × `per_second`, pictures their number ×
`per_picture`, rounded the same way.
"""

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from simplechat.billing.types import (
    FOUR_PLACES,
    UNITS_PER_CREDIT,
    CodeStatus,
    UsageBuckets,
    UsageTotals,
    to_credits,
)
from simplechat.llm.pricing import MediaPrice, Price

TOKENS_PER_PRICE = 1000  # prices are per 1,000 tokens

# Redeem codes: 28 Crockford base32 symbols (140 random bits), shown in groups of 4.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # no I, L, O, U: nothing to misread aloud
CODE_LENGTH = 28
CODE_GROUP = 4
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})  # what people type for 0 and 1
CODE_SHOWN = 4  # the symbols of a code stored and shown beside its hash, to tell codes apart
_CODE_ID = re.compile(r"[0-9a-f]{64}")
NO_EXPIRY_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z: "never" as a comparable number

__all__ = ["to_credits"]  # re-exported: it lives in types, which chat may import


def quantize(amount: Decimal) -> Decimal:
    """`amount` rounded half-up to 4 decimal places."""
    return amount.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


def to_units(credits: Decimal) -> int:
    """Credits (any precision) as stored units, rounded half-up at the fourth place."""
    return int(quantize(credits) * UNITS_PER_CREDIT)


def cost(price: Price, prompt_tokens: int, completion_tokens: int) -> Decimal:
    """What a turn costs, rounded half-up to 4 places. Tiered prices are chosen by the prompt
    tokens and apply to the whole turn (not marginally)."""
    tier = price.tier_for(prompt_tokens)
    raw = (prompt_tokens * tier.input + completion_tokens * tier.output) / TOKENS_PER_PRICE
    return quantize(raw)


def cost_units(price: Price | None, prompt_tokens: int, completion_tokens: int) -> int:
    """`cost` in units; a model without a price costs nothing."""
    if price is None:
        return 0
    return int(cost(price, prompt_tokens, completion_tokens) * UNITS_PER_CREDIT)


def media_cost_units(price: MediaPrice | None, *, speech_ms: int = 0, pictures: int = 0) -> int:
    """What a media request costs, in units: its speech at the price per second plus its
    pictures at the price per picture, rounded half-up to 4 places once; unpriced is free."""
    if price is None:
        return 0
    raw = Decimal(0)
    if price.per_second is not None:
        raw += Decimal(speech_ms) / 1000 * price.per_second
    if price.per_picture is not None:
        raw += pictures * price.per_picture
    return to_units(raw)


def charge_for(cost_units_: int, held_units: int) -> int:
    """What a settled hold charges: the real cost, never more than was held (the provider may
    count a few more prompt tokens than simplechat did; the balance must not go below zero)."""
    return max(0, min(cost_units_, held_units))


# --- redeem codes ---
def encode_code(number: int) -> str:
    """A random number (< 32**28) as a code's 28 symbols, without dashes."""
    symbols = []
    for _ in range(CODE_LENGTH):
        number, digit = divmod(number, len(CODE_ALPHABET))
        symbols.append(CODE_ALPHABET[digit])
    return "".join(reversed(symbols))


def format_code(code: str) -> str:
    """`K7Q29XMB...` as `K7Q2-9XMB-...`, for reading aloud."""
    return "-".join(code[i : i + CODE_GROUP] for i in range(0, len(code), CODE_GROUP))


def normalize_code(text: str) -> str | None:
    """A code as stored, from what a person typed (any case, dashes and spaces, O for 0, I or
    L for 1); None when it cannot be a code at all."""
    compact = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(compact) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in compact):
        return None
    return compact


def code_id(code: str) -> str:
    """What is stored of a code (as `normalize_code` gives it): its SHA-256. The code is 140
    random bits, so a plain hash cannot be reversed or guessed; like API keys, only its first
    symbols are kept beside it (`CODE_SHOWN`)."""
    return hashlib.sha256(code.encode()).hexdigest()


def shown_code(prefix: str) -> str:
    """A code as lists, logs and the audit log show it: its first symbols only."""
    return f"{prefix}-…"


def code_refs(text: str) -> tuple[str, ...] | None:
    """The stored ids a code or a code's id (its 64 hex digits, as listed) may be found by:
    the hash of the code, and the code itself (codes made before codes were stored hashed
    keep their plaintext id: they keep working until used or expired); None when `text` is
    neither."""
    if _CODE_ID.fullmatch(text.strip().lower()):
        return (text.strip().lower(),)
    code = normalize_code(text)
    return None if code is None else (code_id(code), code)


def is_legacy_code(stored_id: str) -> bool:
    """Whether a stored code id is a code itself (made before codes were stored hashed)."""
    return not _CODE_ID.fullmatch(stored_id)


def code_status(stored: str, expires_ms: int, now_ms: int) -> CodeStatus:
    """A code's status as people see it: an unused code past its expiry is expired."""
    if stored == CodeStatus.UNUSED and expires_ms <= now_ms:
        return CodeStatus.EXPIRED
    return CodeStatus(stored)


# --- days, times and windows ---
def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return round(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def expires_at(expires_ms: int) -> datetime | None:
    return None if expires_ms >= NO_EXPIRY_MS else from_ms(expires_ms)


def day_key(moment: datetime, tz: ZoneInfo) -> str:
    """The local calendar day of `moment`, as YYYY-MM-DD (stored: the embedded server has no
    $dateToString)."""
    return moment.astimezone(tz).date().isoformat()


def window_start_ms(now_ms: int, window_ms: int) -> int:
    """The start of the fixed window holding `now_ms`."""
    return now_ms - now_ms % window_ms


def usage_range_problem(start: date, end: date, max_days: int) -> str | None:
    if end < start:
        return "'from' must not be after 'to'."
    if (end - start).days + 1 > max_days:
        return f"At most {max_days} days at a time."
    return None


def default_usage_range(today: date, days: int) -> tuple[date, date]:
    return today - timedelta(days=days - 1), today


# --- usage report ---
def bucket_key(day: str, model: str) -> str:
    """One stored string per (day, model): the embedded server cannot $group on a compound
    key, so usage is grouped on this one."""
    return f"{day}|{model}"


def split_bucket(key: str) -> tuple[str, str]:
    day, _, model = key.partition("|")
    return day, model


def bucket_usage(rows: Iterable[tuple[str, UsageTotals]]) -> UsageBuckets:
    """Grouped rows (bucket key, totals) summed per day, per model and overall."""
    by_day_model: dict[tuple[str, str], UsageTotals] = {}
    by_day: dict[str, UsageTotals] = {}
    by_model: dict[str, UsageTotals] = {}
    total = UsageTotals()
    for key, totals in sorted(rows, key=lambda row: row[0]):
        day, model = split_bucket(key)
        by_day_model[(day, model)] = by_day_model.get((day, model), UsageTotals()) + totals
        by_day[day] = by_day.get(day, UsageTotals()) + totals
        by_model[model] = by_model.get(model, UsageTotals()) + totals
        total = total + totals
    return UsageBuckets(by_day_model, by_day, dict(sorted(by_model.items())), total)
