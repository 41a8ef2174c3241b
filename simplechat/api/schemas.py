"""Wire models: what the API accepts and returns. Domain types are mapped here, at the edge."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from simplechat.domain.users import User


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(RequestModel):
    username: str = Field(examples=["eric"], description="3-32 letters, digits, '_', '-', '.'")
    password: str = Field(examples=["correct horse battery"], description="At least 8 characters")


class UserPublic(BaseModel):
    id: str
    username: str
    role: str
    created_at: datetime

    @classmethod
    def from_domain(cls, user: User) -> "UserPublic":
        return cls(id=user.id, username=user.username, role=user.role, created_at=user.created_at)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"


class HealthResponse(BaseModel):
    status: str
    database: str


class ErrorResponse(BaseModel):
    """Every error has this shape; some add fields (limits add `limit` and `retry_after`)."""

    model_config = ConfigDict(extra="allow")
    error: str = Field(examples=["InvalidCredentials"])
    code: str = Field(examples=["invalid_credentials"])
    detail: str = Field(examples=["Incorrect username or password."])


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse} for status in statuses}
