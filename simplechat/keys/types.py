"""What the keys services take and give."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

BUDGET_PREFIX = "key:"


def budget_account(key_id: str) -> str:
    """The credit account that holds a key's `max_credits` (billing's budget)."""
    return BUDGET_PREFIX + key_id


@dataclass(frozen=True, slots=True)
class KeyCaps:
    """A key's limits; None: no limit of that kind."""

    expires_at: datetime | None = None
    models: tuple[str, ...] | None = None  # the allow-list
    daily_limit: int | None = None
    max_credits: int | None = None  # in 1/10,000 credit


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A personal key as its owner (or an admin) sees it: never the key itself."""

    id: str
    user_id: str
    name: str
    prefix: str
    enabled: bool
    caps: KeyCaps
    created_at: datetime
    last_used_at: datetime | None
    used_today: int
    uses: int
    credits_used: int | None = None  # with max_credits: units spent (settled) in all
    credits_left: int | None = None  # with max_credits: units it may still spend
    locked: bool = False  # disabled by an admin: only an admin enables it again


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once, at creation


@dataclass(frozen=True, slots=True)
class KeyChanges:
    """What to change on a key; only the fields named in `fields` (None clears a cap)."""

    name: str | None = None
    enabled: bool | None = None
    expires_at: datetime | None = None
    models: tuple[str, ...] | None = None
    daily_limit: int | None = None
    max_credits: int | None = None
    fields: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """A valid key presented with a request: whose it is and what it allows."""

    key_id: str
    user_id: str
    models: tuple[str, ...] | None
    daily_cap: int  # NO_CAP when unlimited
    max_credits: int | None = None  # units the key may spend in all (its budget's cap)

    def allows(self, model: str) -> bool:
        """Whether the key's allow-list lets it use `model`."""
        return self.models is None or model in self.models

    @property
    def budget_account(self) -> str | None:
        """The account a call with this key holds its worst case on (None: no credit cap)."""
        return None if self.max_credits is None else budget_account(self.key_id)


@dataclass(frozen=True, slots=True)
class KeyCharge:
    """What one request took from its key's daily count, to give back when it fails."""

    key_id: str
    day: int  # see keys.rules.day_key


class Provider(StrEnum):
    """The providers a user can bring their own key for."""

    OPENROUTER = "openrouter"
    DASHSCOPE = "dashscope"
    OPENAI = "openai"


class ByokMode(StrEnum):
    OFF = "off"  # the server's keys only
    ALLOWED = "allowed"  # the user's key when set, else the server's
    REQUIRED = "required"  # the user's key only


@dataclass(frozen=True, slots=True)
class ProviderKeyInfo:
    provider: Provider
    last4: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sends a chat request: the user, and the personal key they sent it with (if any),
    or the access token's epoch (which the admission compares with the user's)."""

    user_id: str
    key: KeyGrant | None = None
    epoch: int | None = None


class BudgetState(Protocol):
    """What a budget's account holds now (billing's `Balance`)."""

    @property
    def available(self) -> int: ...

    @property
    def on_hold(self) -> int: ...


class KeyBudgets(Protocol):
    """Where the keys' `max_credits` are counted: billing's budgets (`BillingService.budgets`),
    handed over by wiring since keys and billing are siblings."""

    async def open(self, account_id: str, cap: int) -> None: ...

    async def change(self, account_id: str, delta: int) -> None: ...

    async def close(self, account_ids: Sequence[str]) -> None: ...

    async def read(self, account_ids: Sequence[str]) -> Mapping[str, BudgetState]: ...
