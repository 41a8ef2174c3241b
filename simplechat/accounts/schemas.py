"""Account wire models: sign up, tokens, who am I, the profile."""

from datetime import datetime

from pydantic import BaseModel, Field
from pydantic.config import JsonDict

from simplechat.accounts.rules import (
    DISPLAY_NAME_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    USERNAME_PATTERN,
)
from simplechat.accounts.types import ProfileChanges, TokenPair, User
from simplechat.kit.http import RequestModel

# The rules are checked by the service (with clear messages) and documented here.
PASSWORD_LIMITS: JsonDict = {
    "minLength": PASSWORD_MIN_LENGTH,
    "maxLength": PASSWORD_MAX_LENGTH,
}


class UserCreate(RequestModel):
    username: str = Field(
        examples=["eric"],
        description="3-32 letters, digits, '_', '-', '.'",
        json_schema_extra={"pattern": USERNAME_PATTERN.pattern},
    )
    password: str = Field(
        examples=["correct horse battery"],
        description=f"At least {PASSWORD_MIN_LENGTH} characters",
        json_schema_extra=PASSWORD_LIMITS,
    )


class UserPublic(BaseModel):
    id: str = Field(examples=["6740a1f2c3d4e5f601234567"])
    username: str = Field(examples=["eric"])
    role: str = Field(examples=["user"], description="`user` or `admin`")
    level: int = Field(examples=[1], description="Permission level: 1 for users, 2 for admins")
    email: str | None = Field(default=None, examples=["eric@example.com"])
    display_name: str | None = Field(default=None, examples=["Eric"])
    created_at: datetime = Field(examples=["2026-11-21T15:14:32Z"])

    @classmethod
    def from_domain(cls, user: User) -> "UserPublic":
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            level=user.level,
            email=user.email,
            display_name=user.display_name,
            created_at=user.created_at,
        )


class TokenResponse(BaseModel):
    access_token: str = Field(
        examples=["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJlcmljIn0.c2lnbmF0dXJl"],
        description="Send it as `Authorization: Bearer <access_token>`",
    )
    token_type: str = Field(default="bearer", examples=["bearer"])
    expires_in: int = Field(examples=[86400], description="Seconds the access token lasts")
    refresh_token: str = Field(
        examples=["Xq3v9dM2kP0_1bq6sYQm1w8hZr4TfGkEo7cA2nL5uJw"],
        description="Single use: POST it to /token/refresh for a new pair",
    )

    @classmethod
    def from_domain(cls, pair: TokenPair) -> "TokenResponse":
        return cls(
            access_token=pair.access_token,
            expires_in=pair.expires_in,
            refresh_token=pair.refresh_token,
        )


class RefreshRequest(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class RevokeRequest(RefreshRequest):
    everywhere: bool = Field(
        default=False,
        description="End every login of the account, and every access token issued before",
    )


class WeChatLoginRequest(RequestModel):
    code: str = Field(
        min_length=1, max_length=256, description="The code from the mini-program's wx.login()"
    )


class ProfileUpdate(RequestModel):
    """Fields to change; leave a field out to keep it, send null to clear it."""

    email: str | None = Field(
        default=None, examples=["eric@example.com"], max_length=EMAIL_MAX_LENGTH
    )
    display_name: str | None = Field(
        default=None, examples=["Eric"], max_length=DISPLAY_NAME_MAX_LENGTH
    )

    def to_domain(self) -> ProfileChanges:
        return ProfileChanges(
            email=self.email,
            display_name=self.display_name,
            fields=frozenset(self.model_fields_set & {"email", "display_name"}),
        )


class PasswordChange(RequestModel):
    old_password: str | None = Field(
        default=None, description="The current password (not needed if the account has none)"
    )
    new_password: str = Field(examples=["a new long passphrase"], json_schema_extra=PASSWORD_LIMITS)
    revoke_keys: bool = Field(
        default=False,
        description="Also delete every personal API key (they survive a password change otherwise)",
    )


class AccountDelete(RequestModel):
    password: str = Field(description="Your password, to confirm")


class AvatarInfo(BaseModel):
    url: str = Field(examples=["/users/eric/avatar"])
    etag: str = Field(examples=['"3f2a9c0d1e2b4a5f6a7b8c9d0e1f2a3b"'])
    content_type: str = Field(default="image/jpeg", examples=["image/jpeg"])
    width: int = Field(examples=[128])
    height: int = Field(examples=[128])
