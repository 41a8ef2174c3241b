"""Account wire models: sign up, tokens, who am I."""

from datetime import datetime

from pydantic import BaseModel, Field

from simplechat.accounts.rules import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    USERNAME_PATTERN,
)
from simplechat.accounts.types import User
from simplechat.kit.http import RequestModel


class UserCreate(RequestModel):
    # The rules are checked by the service (with clear messages) and documented here.
    username: str = Field(
        examples=["eric"],
        description="3-32 letters, digits, '_', '-', '.'",
        json_schema_extra={"pattern": USERNAME_PATTERN.pattern},
    )
    password: str = Field(
        examples=["correct horse battery"],
        description=f"At least {PASSWORD_MIN_LENGTH} characters",
        json_schema_extra={"minLength": PASSWORD_MIN_LENGTH, "maxLength": PASSWORD_MAX_LENGTH},
    )


class UserPublic(BaseModel):
    id: str = Field(examples=["6740a1f2c3d4e5f601234567"])
    username: str = Field(examples=["eric"])
    role: str = Field(examples=["user"])
    created_at: datetime = Field(examples=["2026-11-21T15:14:32Z"])

    @classmethod
    def from_domain(cls, user: User) -> "UserPublic":
        return cls(id=user.id, username=user.username, role=user.role, created_at=user.created_at)


class TokenResponse(BaseModel):
    access_token: str = Field(
        examples=["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJlcmljIn0.c2lnbmF0dXJl"],
        description="Send it as `Authorization: Bearer <access_token>`",
    )
    token_type: str = Field(default="bearer", examples=["bearer"])
