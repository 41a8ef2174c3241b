"""What the billing service takes and gives. Amounts are integers of 1/10,000 credit
("units"; `billing.rules.to_credits` shows them)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from simplechat.llm.pricing import Price

UNITS_PER_CREDIT = 10_000
FOUR_PLACES = Decimal("0.0001")


def to_credits(units: int) -> Decimal:
    """Stored units as credits with exactly 4 places ("0.0000", "12.3400"): how every amount
    is shown (chat shows conversations' bills and messages' costs with it too)."""
    return (Decimal(units) / UNITS_PER_CREDIT).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


class EntryKind(StrEnum):
    SIGNUP = "signup"  # the starting credits of a new account
    REDEEM = "redeem"  # a redeem code
    CHARGE = "charge"  # a turn's or a media request's cost (a settled hold)
    REFUND = "refund"  # a charge given back (reserved: settling never needs one)
    ADMIN = "admin"  # an admin's adjustment, with their reason


class CodeStatus(StrEnum):
    UNUSED = "unused"
    USED = "used"
    EXPIRED = "expired"  # unused, past its expiry (derived, never stored)
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Balance:
    """An account's money: `balance` = `available` + `on_hold`."""

    user_id: str
    available: int
    on_hold: int

    @property
    def balance(self) -> int:
        return self.available + self.on_hold


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    key: str  # unique: "signup:<user>", "redeem:<code>", "charge:<hold>", "admin:<id>"
    user_id: str
    kind: EntryKind
    delta: int
    created_at: datetime
    reference: str | None = None  # the code, the chat message, ...
    note: str | None = None  # an admin's reason; a charge's model and tokens
    by: str | None = None  # the admin who made an adjustment


@dataclass(frozen=True, slots=True)
class Hold:
    """Credits reserved for one turn until it is settled or released.

    `amount` is the turn's worst case: its prompt tokens plus the reserved output, at the
    model's price (the tier of the prompt). `price` is kept so settling needs no catalog;
    None for a hold priced outside tokens (speech and pictures: `BillingService.hold_units`).
    """

    id: str
    user_id: str
    model: str
    price: Price | None
    amount: int
    reference: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class Settlement:
    """What settling a hold did. `settled` is False when the hold had already been settled or
    released (by another code path, or by the sweeper): nothing was charged this time."""

    hold_id: str
    settled: bool
    cost: int  # the turn's priced cost
    charged: int  # what the balance paid: the cost, capped at the hold


@dataclass(frozen=True, slots=True)
class TurnCost:
    """A finished turn, priced: store `cost` on the assistant message and $inc it into the
    conversation's bill. `charged` is what the balance paid (0 with credits off)."""

    cost: int
    charged: int


@dataclass(frozen=True, slots=True)
class RedeemCode:
    id: str  # the code's SHA-256
    prefix: str  # its first symbols
    code: str | None  # the code itself, 28 symbols without dashes: only when just made
    credits: int
    status: CodeStatus
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    note: str | None
    used_by: str | None
    used_by_name: str | None
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class Redeemed:
    code: str
    credits: int
    balance: Balance


@dataclass(frozen=True, slots=True)
class SweepReport:
    holds_released: int = 0
    entries_written: int = 0
    codes_credited: int = 0


@dataclass(frozen=True, slots=True)
class UsageTotals:
    replies: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_units: int = 0

    def __add__(self, other: "UsageTotals") -> "UsageTotals":
        return UsageTotals(
            self.replies + other.replies,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost_units + other.cost_units,
        )


@dataclass(frozen=True, slots=True)
class UsageBuckets:
    """Totals per (day, model), per day, per model and overall; days and models sorted."""

    by_day_model: dict[tuple[str, str], UsageTotals]
    by_day: dict[str, UsageTotals]
    by_model: dict[str, UsageTotals]
    total: UsageTotals


@dataclass(frozen=True, slots=True)
class UsageReport:
    start: date
    end: date
    buckets: UsageBuckets


@dataclass(frozen=True, slots=True)
class AdminActor:
    """The admin behind a change to codes or credits, as the audit log names them."""

    id: str
    username: str
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class AdminAction:
    """An admin's change to codes or credits, for the audit log (which the admin area keeps:
    billing sits below it, so it is handed an `AuditRecorder` by `wiring`)."""

    actor: AdminActor
    action: str  # "codes.create", "code.disable", "credits.adjust"
    target: str | None = None  # the user whose credits changed
    target_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


AuditRecorder = Callable[[AdminAction], Awaitable[None]]


async def no_audit(action: AdminAction) -> None:
    """The recorder when there is no audit log (tests of billing alone)."""
