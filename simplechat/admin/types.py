"""What the admin service takes and gives."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simplechat.accounts.types import Role, User
from simplechat.limits.service import LimitStatus
from simplechat.media.types import Overrides, QuotaStatus
from simplechat.reports.service import Figures


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does an admin action, and from where (for the audit log)."""

    id: str | None
    username: str
    ip: str | None


COMMAND_LINE = Actor(id=None, username="(command line)", ip=None)


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    password: str
    role: Role = Role.USER
    email: str | None = None
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class UserChanges:
    """What to change on a user; only the fields named in `fields` (None clears a field or
    an override)."""

    password: str | None = None
    email: str | None = None
    display_name: str | None = None
    role: Role | None = None
    disabled: bool | None = None
    daily_limit: int | None = None
    burst_limit: int | None = None
    speech_seconds_daily: int | None = None
    pictures_daily: int | None = None
    fields: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class UserDetail:
    """One user as an admin sees them: the account, their limits, media quotas and figures."""

    user: User
    limits: LimitStatus
    figures: Figures
    media: QuotaStatus
    media_overrides: Overrides


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    at: datetime
    actor: str
    actor_id: str | None
    action: str
    target: str | None
    target_id: str | None
    ip: str | None
    details: dict[str, Any]
