"""Keys wire models."""

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from simplechat.keys.types import ApiKey, CreatedKey, KeyCaps, KeyChanges, ProviderKeyInfo
from simplechat.kit.http import RequestModel

MAX_MODELS = 100
MAX_DAILY_LIMIT = 1_000_000
# 10^9 credits in 1/10,000 (the most a redeem code or an adjustment gives): far inside the
# 64-bit integers the database stores (2^63 and more were a 500: BSON cannot encode them).
MAX_KEY_CREDITS = 10**13
ModelName = Field(min_length=1, max_length=200)


class KeyCreate(RequestModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"\S", examples=["Open WebUI"])
    expires_at: datetime | None = Field(
        default=None, description="When the key stops working (UTC if no offset is given)"
    )
    models: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MODELS,
        description="The only models the key may use (default: every model)",
        examples=[["mock"]],
    )
    daily_limit: int | None = Field(
        default=None,
        ge=0,
        le=MAX_DAILY_LIMIT,
        description=f"Model calls a day, 0 to {MAX_DAILY_LIMIT} (default: no cap)",
    )
    max_credits: int | None = Field(
        default=None,
        ge=0,
        le=MAX_KEY_CREDITS,
        description=f"Credits (in 1/10,000) the key may spend in all, 0 to {MAX_KEY_CREDITS}",
    )

    def to_domain(self) -> KeyCaps:
        return KeyCaps(
            expires_at=_aware(self.expires_at),
            models=None if self.models is None else tuple(self.models),
            daily_limit=self.daily_limit,
            max_credits=self.max_credits,
        )


class KeyUpdate(RequestModel):
    """Only the fields sent change; null clears a cap."""

    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"\S")
    enabled: bool | None = None
    expires_at: datetime | None = None
    models: list[str] | None = Field(default=None, min_length=1, max_length=MAX_MODELS)
    daily_limit: int | None = Field(default=None, ge=0, le=MAX_DAILY_LIMIT)
    max_credits: int | None = Field(default=None, ge=0, le=MAX_KEY_CREDITS)

    def to_domain(self) -> KeyChanges:
        return KeyChanges(
            name=self.name,
            enabled=self.enabled,
            expires_at=_aware(self.expires_at),
            models=None if self.models is None else tuple(self.models),
            daily_limit=self.daily_limit,
            max_credits=self.max_credits,
            fields=frozenset(self.model_fields_set),
        )


class KeyPublic(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    masked: str = Field(examples=["sk-sc-AbC123…"])
    enabled: bool
    disabled_by_admin: bool = Field(
        description="An admin disabled the key: only an admin can enable it again"
    )
    expires_at: datetime | None
    models: list[str] | None
    daily_limit: int | None
    max_credits: int | None
    credits_used: int | None = Field(
        description="With max_credits: credits (in 1/10,000) the key has spent in all"
    )
    credits_left: int | None = Field(
        description="With max_credits: credits (in 1/10,000) it may still spend (less any "
        "held by calls in flight)"
    )
    used_today: int
    uses: int
    last_used_at: datetime | None
    created_at: datetime

    @classmethod
    def from_domain(cls, key: ApiKey) -> "KeyPublic":
        caps = key.caps
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            masked=f"{key.prefix}…",
            enabled=key.enabled,
            disabled_by_admin=key.locked,
            expires_at=caps.expires_at,
            models=None if caps.models is None else list(caps.models),
            daily_limit=caps.daily_limit,
            max_credits=caps.max_credits,
            credits_used=key.credits_used,
            credits_left=key.credits_left,
            used_today=key.used_today,
            uses=key.uses,
            last_used_at=key.last_used_at,
            created_at=key.created_at,
        )


class KeyCreated(KeyPublic):
    key: str = Field(description="The key itself: shown this once, never again")

    @classmethod
    def from_created(cls, created: CreatedKey) -> "KeyCreated":
        return cls(**KeyPublic.from_domain(created.key).model_dump(), key=created.secret)


class ProviderKeyPut(RequestModel):
    api_key: str = Field(min_length=8, max_length=500, pattern=r"^\S+$")


class ProviderKeyPublic(BaseModel):
    provider: str
    last4: str = Field(description="The key's last 4 characters; the key is never shown")
    updated_at: datetime

    @classmethod
    def from_domain(cls, info: ProviderKeyInfo) -> "ProviderKeyPublic":
        return cls(provider=info.provider.value, last4=info.last4, updated_at=info.updated_at)


class ProviderKeyList(BaseModel):
    byok: str = Field(description="off | allowed | required: how this server uses them")
    keys: list[ProviderKeyPublic]


def _aware(when: datetime | None) -> datetime | None:
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)
