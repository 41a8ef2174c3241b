"""Admin area wire models."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from simplechat.accounts.types import Role, User
from simplechat.admin.types import AuditEntry, NewUser, UserChanges, UserDetail
from simplechat.keys.types import ApiKey
from simplechat.kit.http import RequestModel
from simplechat.limits.service import MAX_BURST_OVERRIDE, MAX_DAILY_OVERRIDE
from simplechat.media.types import MAX_DAILY_QUOTA as MAX_MEDIA_QUOTA

PASSWORD_DOC = "At least 8 characters"


class AdminUserView(BaseModel):
    id: str = Field(examples=["6740a1f2c3d4e5f601234567"])
    username: str = Field(examples=["eric"])
    role: str = Field(examples=["user"])
    level: int = Field(examples=[1], description="1 for users, 2 for admins")
    email: str | None = Field(default=None, examples=["eric@example.com"])
    display_name: str | None = Field(default=None, examples=["Eric"])
    disabled: bool = Field(examples=[False])
    has_password: bool = Field(examples=[True], description="False for WeChat-only accounts")
    created_at: datetime = Field(examples=["2026-11-21T15:14:32Z"])
    last_active_at: datetime | None = Field(
        default=None, description="When they last sent a message", examples=["2026-11-22T09:00:00Z"]
    )

    @classmethod
    def from_domain(cls, user: User) -> "AdminUserView":
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            level=user.level,
            email=user.email,
            display_name=user.display_name,
            disabled=user.disabled,
            has_password=user.has_password,
            created_at=user.created_at,
            last_active_at=user.last_active_at,
        )


class UserLimits(BaseModel):
    daily_limit: int = Field(examples=[20], description="The daily limit that applies")
    burst_limit: int = Field(examples=[3])
    burst_window_seconds: int = Field(examples=[30])
    daily_override: int | None = Field(description="The user's own daily limit, if set")
    burst_override: int | None = Field(description="The user's own burst limit, if set")
    messages_today: int = Field(examples=[3])
    remaining_today: int = Field(examples=[17])


class TokenFigures(BaseModel):
    prompt: int
    completion: int
    total: int


class UserFigures(BaseModel):
    messages_today: int = Field(examples=[3])
    messages_total: int = Field(examples=[120])
    replies_total: int = Field(examples=[118])
    tokens: TokenFigures
    last_activity: datetime | None = Field(examples=["2026-11-22T09:00:00Z"])


class UserMediaQuotas(BaseModel):
    speech_seconds_daily: int = Field(examples=[600], description="The daily quota that applies")
    pictures_daily: int = Field(examples=[50])
    speech_seconds_override: int | None = Field(description="The user's own quota, if set")
    pictures_override: int | None = Field(description="The user's own quota, if set")
    speech_seconds_today: int = Field(examples=[42], description="Used today")
    pictures_today: int = Field(examples=[3], description="Used today")


class AdminUserDetail(AdminUserView):
    limits: UserLimits
    media: UserMediaQuotas
    figures: UserFigures

    @classmethod
    def from_detail(cls, detail: UserDetail) -> "AdminUserDetail":
        limits, figures = detail.limits, detail.figures
        return cls(
            **AdminUserView.from_domain(detail.user).model_dump(),
            limits=UserLimits(
                daily_limit=limits.daily_limit,
                burst_limit=limits.burst_limit,
                burst_window_seconds=limits.burst_window_seconds,
                daily_override=limits.daily_override,
                burst_override=limits.burst_override,
                messages_today=limits.chat_cnt,
                remaining_today=limits.remaining,
            ),
            media=UserMediaQuotas(
                speech_seconds_daily=detail.media.speech_ms.limit // 1000,
                pictures_daily=detail.media.pictures.limit,
                speech_seconds_override=detail.media_overrides.speech_seconds_daily,
                pictures_override=detail.media_overrides.pictures_daily,
                speech_seconds_today=-(-detail.media.speech_ms.used // 1000),  # started seconds
                pictures_today=detail.media.pictures.used,
            ),
            figures=UserFigures(
                messages_today=limits.chat_cnt,
                messages_total=figures.messages,
                replies_total=figures.replies,
                tokens=TokenFigures(
                    prompt=figures.prompt_tokens,
                    completion=figures.completion_tokens,
                    total=figures.prompt_tokens + figures.completion_tokens,
                ),
                last_activity=figures.last_activity,
            ),
        )


class AdminUserCreate(RequestModel):
    username: str = Field(examples=["alice"], description="3-32 letters, digits, '_', '-', '.'")
    password: str = Field(examples=["a long passphrase"], description=PASSWORD_DOC)
    role: Role = Field(default=Role.USER)
    email: str | None = Field(default=None, examples=["alice@example.com"])
    display_name: str | None = Field(default=None, examples=["Alice"])

    def to_domain(self) -> NewUser:
        return NewUser(self.username, self.password, self.role, self.email, self.display_name)


class AdminUserUpdate(RequestModel):
    """Fields to change; leave a field out to keep it. null clears an email, a display name
    or a per-user limit or media quota (the configured one applies again)."""

    password: str | None = Field(default=None, description=f"A new password ({PASSWORD_DOC})")
    email: str | None = None
    display_name: str | None = None
    role: Role | None = None
    disabled: bool | None = Field(
        default=None, description="Disabled users cannot log in, refresh or chat"
    )
    daily_limit: int | None = Field(
        default=None,
        ge=0,
        le=MAX_DAILY_OVERRIDE,
        examples=[5],
        description=f"Messages per day, 0 to {MAX_DAILY_OVERRIDE} (null: the server's)",
    )
    burst_limit: int | None = Field(
        default=None,
        ge=1,
        le=MAX_BURST_OVERRIDE,
        examples=[10],
        description=f"Messages per burst window, 1 to {MAX_BURST_OVERRIDE} (null: the server's)",
    )
    speech_seconds_daily: int | None = Field(
        default=None,
        ge=0,
        le=MAX_MEDIA_QUOTA,
        examples=[1800],
        description=f"Seconds of speech turned into text per day, 0 to {MAX_MEDIA_QUOTA}",
    )
    pictures_daily: int | None = Field(
        default=None,
        ge=0,
        le=MAX_MEDIA_QUOTA,
        examples=[100],
        description=f"Pictures read per day, 0 to {MAX_MEDIA_QUOTA}",
    )

    def to_domain(self) -> UserChanges:
        return UserChanges(**self.model_dump(), fields=frozenset(self.model_fields_set))


class AuditEntryView(BaseModel):
    id: str
    at: datetime
    actor: str = Field(examples=["alice"], description="The admin, or (command line)")
    actor_id: str | None
    action: str = Field(examples=["user.update"])
    target: str | None = Field(examples=["eric"])
    target_id: str | None
    ip: str | None = Field(examples=["203.0.113.7"])
    details: dict[str, Any] = Field(examples=[{"disabled": True}])

    @classmethod
    def from_domain(cls, entry: AuditEntry) -> "AuditEntryView":
        return cls(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            actor_id=entry.actor_id,
            action=entry.action,
            target=entry.target,
            target_id=entry.target_id,
            ip=entry.ip,
            details=entry.details,
        )


class AdminKeyView(BaseModel):
    """A personal API key as an admin sees it (never the key itself)."""

    id: str
    user_id: str
    name: str
    prefix: str
    enabled: bool
    disabled_by_admin: bool = Field(
        description="Disabled by an admin: its owner cannot enable it again"
    )
    expires_at: datetime | None
    models: list[str] | None
    daily_limit: int | None
    used_today: int
    uses: int
    last_used_at: datetime | None
    created_at: datetime

    @classmethod
    def from_domain(cls, key: ApiKey) -> "AdminKeyView":
        return cls(
            id=key.id,
            user_id=key.user_id,
            name=key.name,
            prefix=key.prefix,
            enabled=key.enabled,
            disabled_by_admin=key.locked,
            expires_at=key.caps.expires_at,
            models=None if key.caps.models is None else list(key.caps.models),
            daily_limit=key.caps.daily_limit,
            used_today=key.used_today,
            uses=key.uses,
            last_used_at=key.last_used_at,
            created_at=key.created_at,
        )


class AdminKeyUpdate(RequestModel):
    enabled: bool = Field(
        description="false disables the key at once, and only an admin can enable it again"
    )
