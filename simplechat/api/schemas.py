"""Wire models: what the API accepts and returns. Domain types are mapped here, at the edge."""

from datetime import datetime
from typing import Any, Literal

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


class MessageRequest(RequestModel):
    message: str = Field(
        min_length=1, examples=["hi, my name is Eric"], description="What you say to the assistant"
    )
    model: str | None = Field(
        default=None,
        examples=["mistralai/mistral-7b-instruct"],
        description="A model name from the catalog; the server's default when omitted",
    )


class UsagePublic(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class MessageResponse(BaseModel):
    response: str = Field(examples=["Hello Eric! How can I help you today?"])
    model: str = Field(examples=["mistralai/mistral-7b-instruct"])
    usage: UsagePublic | None = None
    truncated: bool = Field(description="Whether middle-out removed part of the prompt")
    dropped_tokens: int = Field(description="How many prompt tokens middle-out removed")
    prompt_tokens: int = Field(description="simplechat's own count of the prompt sent upstream")
    mock: bool = Field(description="True when the built-in mock answered (no provider key set)")


class HistoryItem(BaseModel):
    type: Literal["user", "ai"] = Field(examples=["user"])
    text: str = Field(examples=["hi, my name is Eric"])


class StatusResponse(BaseModel):
    username: str = Field(examples=["eric"])
    chat_cnt: int = Field(description="Messages counted against today's limit", examples=[3])
    daily_limit: int = Field(examples=[20])
    remaining: int = Field(examples=[17])
    burst_limit: int = Field(examples=[3])
    burst_window_seconds: int = Field(examples=[30])
    resets_at: datetime = Field(description="When today's count starts again from zero")


class DayCount(BaseModel):
    date: str = Field(examples=["2026-11-21"])
    count: int


class ReportTotals(BaseModel):
    messages: int = Field(description="Messages you sent")
    replies: int = Field(description="Answers you received")
    plain: int = Field(description="Messages sent to /llm/message")
    advanced: int = Field(description="Messages sent to /llm/message/advanced")


class ReportTokens(BaseModel):
    prompt: int
    completion: int
    total: int


class ReportResponse(BaseModel):
    username: str
    generated_at: datetime
    timezone: str
    totals: ReportTotals
    active_days: int
    messages_per_day: list[DayCount] = Field(description="The last 30 days, oldest first")
    hour_histogram: list[int] = Field(description="Messages per hour of day (24 buckets)")
    average_message_chars: float
    average_message_tokens: float
    tokens: ReportTokens
    limit_refusals: dict[str, int] = Field(
        description="Requests the limits refused, by limit", examples=[{"burst_limit": 2}]
    )
    first_activity: datetime | None
    last_activity: datetime | None


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
