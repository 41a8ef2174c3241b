"""Billing wire models. Amounts are credits as decimal strings with 4 places ("12.5000")."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from simplechat.billing.rules import format_code, shown_code, to_credits
from simplechat.billing.service import CreditsView
from simplechat.billing.types import (
    Balance,
    CodeStatus,
    EntryKind,
    LedgerEntry,
    RedeemCode,
    Redeemed,
    UsageReport,
    UsageTotals,
)
from simplechat.kit.http import RequestModel
from simplechat.kit.pagination import Page

EXAMPLE_CODE = "K7Q2-9XMB-4RTA-H3VZ-0PCN-W8EJ-6DFS"


class BalancePublic(BaseModel):
    balance: Decimal = Field(description="available + on_hold", examples=["12.5000"])
    available: Decimal = Field(description="What messages can spend now", examples=["12.4000"])
    on_hold: Decimal = Field(
        description="Held for messages being answered right now", examples=["0.1000"]
    )

    @classmethod
    def of(cls, balance: Balance, **extra: Any) -> Self:
        return cls(
            balance=to_credits(balance.balance),
            available=to_credits(balance.available),
            on_hold=to_credits(balance.on_hold),
            **extra,
        )


class LedgerEntryPublic(BaseModel):
    id: str = Field(
        description="Unique per change", examples=["redeem:K7Q29XMB4RTAH3VZ0PCNW8EJ6DFS"]
    )
    kind: EntryKind
    delta: Decimal = Field(description="Credits added (negative: taken)", examples=["10.0000"])
    reference: str | None = Field(
        default=None,
        description="The code redeemed, the message charged, the speech or picture result...",
        examples=[EXAMPLE_CODE],
    )
    note: str | None = Field(
        default=None,
        description="An admin's reason; a charge's model and tokens, or its engine and "
        "seconds of speech or pictures",
    )
    by: str | None = Field(default=None, description="The admin who made an adjustment")
    created_at: datetime

    @classmethod
    def from_domain(cls, entry: LedgerEntry) -> Self:
        return cls(
            id=entry.key,
            kind=entry.kind,
            delta=to_credits(entry.delta),
            reference=entry.reference,
            note=entry.note,
            by=entry.by,
            created_at=entry.created_at,
        )


class CreditsResponse(BalancePublic):
    ledger: Page[LedgerEntryPublic] = Field(description="Every change of the balance, newest first")

    @classmethod
    def from_domain(cls, view: CreditsView) -> Self:
        ledger = Page.of(view.ledger, LedgerEntryPublic.from_domain)
        return cls.of(view.balance, ledger=ledger)


class RedeemRequest(RequestModel):
    code: str = Field(
        min_length=1,
        max_length=100,
        description="A redeem code; case, dashes and spaces do not matter",
        examples=[EXAMPLE_CODE],
    )


class RedeemResponse(BalancePublic):
    code: str = Field(examples=[EXAMPLE_CODE])
    credited: Decimal = Field(description="What the code added", examples=["10.0000"])

    @classmethod
    def from_domain(cls, redeemed: Redeemed) -> Self:
        return cls.of(
            redeemed.balance,
            code=format_code(redeemed.code),
            credited=to_credits(redeemed.credits),
        )


class AdjustRequest(RequestModel):
    delta: Decimal = Field(
        ge=-(10**9),
        le=10**9,
        decimal_places=4,
        description="Credits to add; negative to take (never below zero available)",
        examples=["5", "-2.5"],
    )
    reason: str = Field(min_length=1, max_length=200, examples=["Compensation for the outage"])

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, value: Decimal) -> Decimal:
        if value == 0:
            raise ValueError("must not be zero")
        return value


class AdjustResponse(BalancePublic):
    user_id: str

    @classmethod
    def from_domain(cls, balance: Balance) -> Self:
        return cls.of(balance, user_id=balance.user_id)


class CodeCreate(RequestModel):
    credits: Decimal = Field(
        gt=0, le=10**9, decimal_places=4, description="Credits per code", examples=["10"]
    )
    count: int = Field(default=1, ge=1, le=100, description="How many codes (1-100)")
    expires_at: datetime | None = Field(
        default=None,
        description="When the codes stop working (UTC unless a timezone is given)",
        examples=["2026-12-31T23:59:59Z"],
    )
    note: str | None = Field(default=None, max_length=200, examples=["Launch giveaway"])

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class CodePublic(BaseModel):
    id: str = Field(
        examples=["5f0c3a1e9b7d2c4f8a6e1d3b5c7a9e0f2d4b6a8c1e3f5a7b9d0c2e4f6a8b1d3c"],
        description="The code's SHA-256: look it up or disable it by this, or by the code",
    )
    code: str = Field(
        examples=[EXAMPLE_CODE, "K7Q2-…"],
        description="The code, whole only in the answer that made it; elsewhere its first "
        "symbols (it is stored hashed)",
    )
    credits: Decimal = Field(examples=["10.0000"])
    status: CodeStatus
    note: str | None = None
    created_at: datetime
    created_by: str = Field(description="The admin who made it")
    expires_at: datetime | None = None
    used_by: str | None = Field(default=None, description="The user id that used it")
    used_by_name: str | None = Field(default=None, examples=["eric"])
    used_at: datetime | None = None

    @classmethod
    def from_domain(cls, code: RedeemCode) -> Self:
        return cls(
            id=code.id,
            code=format_code(code.code) if code.code else shown_code(code.prefix),
            credits=to_credits(code.credits),
            status=code.status,
            note=code.note,
            created_at=code.created_at,
            created_by=code.created_by,
            expires_at=code.expires_at,
            used_by=code.used_by,
            used_by_name=code.used_by_name,
            used_at=code.used_at,
        )


class CodesCreated(BaseModel):
    codes: list[CodePublic]


class UsageTotalsPublic(BaseModel):
    replies: int = Field(examples=[12])
    prompt_tokens: int = Field(examples=[4200])
    completion_tokens: int = Field(examples=[1300])
    total_tokens: int = Field(examples=[5500])
    cost: Decimal = Field(description="Credits, at the models' prices", examples=["0.0112"])

    @classmethod
    def of(cls, totals: UsageTotals, **extra: Any) -> Self:
        return cls(
            replies=totals.replies,
            prompt_tokens=totals.prompt_tokens,
            completion_tokens=totals.completion_tokens,
            total_tokens=totals.prompt_tokens + totals.completion_tokens,
            cost=to_credits(totals.cost_units),
            **extra,
        )


class ModelUsage(UsageTotalsPublic):
    model: str = Field(examples=["qwen-plus"])


class DayUsage(UsageTotalsPublic):
    date: str = Field(examples=["2026-11-21"])
    models: list[ModelUsage]


class UsageResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: date = Field(alias="from", examples=["2026-10-23"])
    end: date = Field(alias="to", examples=["2026-11-21"])
    total: UsageTotalsPublic
    by_day: list[DayUsage] = Field(description="Days with usage, oldest first")
    by_model: list[ModelUsage]

    @classmethod
    def from_domain(cls, report: UsageReport) -> Self:
        buckets = report.buckets
        per_day: dict[str, list[ModelUsage]] = {day: [] for day in buckets.by_day}
        for (day, model), totals in buckets.by_day_model.items():
            per_day[day].append(ModelUsage.of(totals, model=model))
        return cls(
            start=report.start,
            end=report.end,
            total=UsageTotalsPublic.of(buckets.total),
            by_day=[
                DayUsage.of(totals, date=day, models=per_day[day])
                for day, totals in buckets.by_day.items()
            ],
            by_model=[ModelUsage.of(t, model=m) for m, t in buckets.by_model.items()],
        )
