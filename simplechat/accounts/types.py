"""Accounts as the rest of the code sees them (no secret fields), and what the service takes."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


# Permission levels, as the products simplechat replaces number them (2 = admin).
LEVELS = {Role.USER: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    role: str
    created_at: datetime
    email: str | None = None
    display_name: str | None = None
    disabled: bool = False
    has_password: bool = True
    last_active_at: datetime | None = None

    @property
    def level(self) -> int:
        return LEVELS[Role.ADMIN] if self.role == Role.ADMIN else LEVELS[Role.USER]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token lasts


@dataclass(frozen=True, slots=True)
class Avatar:
    data: bytes  # a 128x128 JPEG
    etag: str  # quoted, as sent in the ETag header


class UserSort(StrEnum):
    CREATED = "created_at"
    CREATED_DESC = "-created_at"
    ACTIVE = "last_active_at"
    ACTIVE_DESC = "-last_active_at"
    USERNAME = "username"


@dataclass(frozen=True, slots=True)
class UserQuery:
    """Which users to list: a username prefix, a role, disabled or not, and the order."""

    prefix: str | None = None
    role: Role | None = None
    disabled: bool | None = None
    sort: UserSort = UserSort.CREATED_DESC


@dataclass(frozen=True, slots=True)
class ProfileChanges:
    """Fields to change on an account; a field left out stays as it is (None clears it)."""

    email: str | None = None
    display_name: str | None = None
    fields: frozenset[str] = frozenset()  # which of the above to apply


# Removes everything one capability keeps for a user (messages, counters, files...), given the
# user's id. `wiring` hands the accounts service one per capability that owns user data, so
# deleting an account reaches every capability without accounts importing them.
OwnerDataRemover = Callable[[str], Awaitable[None]]


# Personal API keys start with this; a Bearer token that does is a key, not an access token.
API_KEY_PREFIX = "sk-sc-"


def is_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)


class PresentedKey(Protocol):
    """A valid personal API key presented with a request (the keys capability's `KeyGrant`)."""

    @property
    def user_id(self) -> str: ...


class KeyResolver(Protocol):
    """The valid personal API key a secret is (raises NotAuthenticated otherwise). The keys
    capability, above accounts, provides it in the lifespan state as `api_keys`."""

    async def grant(self, secret: str) -> PresentedKey: ...


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a Bearer token says is calling, before the user is read: an access token's user and
    token epoch, or a personal key's user and the key. The epoch is compared where the user is
    read (the profile read, or the chat admission's update): a password change, a disable, a
    role change or "log out everywhere" moves the user's epoch on, so every access token issued
    before stops working at once, on every worker."""

    user_id: str
    epoch: int | None = None  # an access token's; None for a key (checked on its own)
    key: PresentedKey | None = None
