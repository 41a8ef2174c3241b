"""Wire models: what the API accepts and returns. Domain types are mapped here, at the edge."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from simplechat.domain.messages import Usage
from simplechat.domain.users import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    USERNAME_PATTERN,
    User,
)

EXAMPLE_REQUEST_ID = "4f0c2a9d8e7b4c1a9f3e2d1c0b9a8f7e"


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class MessageRequest(RequestModel):
    message: str = Field(
        min_length=1,
        examples=["hi, my name is Eric"],
        description="What you say to the assistant (not only white space)",
        json_schema_extra={"pattern": r"\S"},
    )
    model: str | None = Field(
        default=None,
        examples=["mistralai/mistral-7b-instruct"],
        description="A model name from the catalog; the server's default when omitted",
    )
    stream: bool = Field(
        default=False,
        description="Answer with server-sent events (also chosen by Accept: text/event-stream)",
    )


class UsagePublic(BaseModel):
    """Token usage, in OpenAI's field names (the /llm routes, /v1 and the streams share it)."""

    prompt_tokens: int = Field(examples=[24])
    completion_tokens: int = Field(examples=[10])
    total_tokens: int = Field(examples=[34])

    @classmethod
    def from_domain(cls, usage: Usage | None) -> "UsagePublic | None":
        if usage is None:
            return None
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )


class MessageResponse(BaseModel):
    response: str = Field(examples=["Hello Eric! How can I help you today?"])
    model: str = Field(examples=["mistralai/mistral-7b-instruct"])
    usage: UsagePublic | None = None
    truncated: bool = Field(
        description="Whether middle-out removed part of the prompt", examples=[False]
    )
    dropped_tokens: int = Field(
        description="How many prompt tokens middle-out removed", examples=[0]
    )
    prompt_tokens: int = Field(
        description="simplechat's own count of the prompt sent upstream", examples=[24]
    )
    mock: bool = Field(
        description="True when the built-in mock answered (no provider key set)", examples=[False]
    )


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
    resets_at: datetime = Field(
        description="When today's count starts again from zero", examples=["2026-11-22T00:00:00Z"]
    )


class DayCount(BaseModel):
    date: str = Field(examples=["2026-11-21"])
    count: int = Field(examples=[3])


class ReportTotals(BaseModel):
    messages: int = Field(description="Messages you sent", examples=[3])
    replies: int = Field(description="Answers you received", examples=[3])
    plain: int = Field(description="Messages sent to /llm/message", examples=[2])
    advanced: int = Field(description="Messages sent to /llm/message/advanced", examples=[1])


class ReportTokens(BaseModel):
    prompt: int = Field(examples=[96])
    completion: int = Field(examples=[41])
    total: int = Field(examples=[137])


class ReportResponse(BaseModel):
    username: str = Field(examples=["eric"])
    generated_at: datetime = Field(examples=["2026-11-21T15:20:00Z"])
    timezone: str = Field(examples=["UTC"])
    totals: ReportTotals
    active_days: int = Field(examples=[1])
    messages_per_day: list[DayCount] = Field(description="The last 30 days, oldest first")
    hour_histogram: list[int] = Field(
        description="Messages per hour of day (24 buckets)", examples=[[0] * 15 + [3] + [0] * 8]
    )
    average_message_chars: float = Field(examples=[19.0])
    average_message_tokens: float = Field(examples=[7.0])
    tokens: ReportTokens
    limit_refusals: dict[str, int] = Field(
        description="Requests the limits refused, by limit", examples=[{"burst_limit": 2}]
    )
    first_activity: datetime | None = Field(examples=["2026-11-21T15:14:32Z"])
    last_activity: datetime | None = Field(examples=["2026-11-21T15:16:05Z"])


class HealthResponse(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(examples=["ok"])


class ErrorResponse(BaseModel):
    """Every error has this shape; some add fields (limits add `limit` and `retry_after`)."""

    model_config = ConfigDict(extra="allow")
    error: str = Field(examples=["InvalidCredentials"], description="The error's class name")
    code: str = Field(examples=["invalid_credentials"], description="A stable snake_case code")
    detail: str = Field(examples=["Incorrect username or password."])
    request_id: str = Field(
        examples=[EXAMPLE_REQUEST_ID],
        description="This request's id, also in the X-Request-ID header: quote it in reports",
    )


def _error(name: str, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "error": name,
        "code": code,
        "detail": detail,
        **extra,
        "request_id": EXAMPLE_REQUEST_ID,
    }


# Example error bodies by code, for the API docs.
ERROR_EXAMPLES: dict[str, dict[str, Any]] = {
    "context_too_long": _error(
        "ContextTooLong",
        "context_too_long",
        "The conversation is too long for the model (OpenRouter said: maximum context length "
        "is 32768 tokens)",
    ),
    "not_authenticated": _error(
        "NotAuthenticated", "not_authenticated", "Not authenticated: send a valid Bearer token."
    ),
    "invalid_credentials": _error(
        "InvalidCredentials", "invalid_credentials", "Incorrect username or password."
    ),
    "daily_limit": _error(
        "RateLimited",
        "daily_limit",
        "Daily message limit reached: 20 messages per day. The count resets at midnight.",
        limit=20,
        retry_after=31528,
        resets_at="2026-11-22T00:00:00+00:00",
    ),
    "burst_limit": _error(
        "RateLimited",
        "burst_limit",
        "Too many messages: at most 3 in any 30 seconds. Wait a moment and try again.",
        limit=3,
        retry_after=12,
        window_seconds=30,
    ),
    "username_taken": _error(
        "UsernameTaken", "username_taken", "The username 'eric' is already taken."
    ),
    "payload_too_large": _error(
        "PayloadTooLarge", "payload_too_large", "The request body is larger than 1000000 bytes."
    ),
    "invalid_input": _error(
        "InvalidInput",
        "invalid_input",
        "message: String should have at least 1 character",
        problems=[{"loc": ["body", "message"], "msg": "String should have at least 1 character"}],
    ),
    "ip_limit": _error(
        "RateLimited",
        "ip_limit",
        "Too many attempts from your address (10 per 1 minute). Try again later.",
        retry_after=60,
    ),
    "upstream_rejected": _error(
        "UpstreamRejected",
        "upstream_rejected",
        "The server's OpenRouter API key was refused by the provider.",
        provider="openrouter",
        upstream_status=401,
    ),
    "upstream_unavailable": _error(
        "UpstreamUnavailable",
        "upstream_unavailable",
        "OpenRouter is busy or is rate-limiting this server (429: rate limited).",
        provider="openrouter",
        upstream_status=429,
    ),
    "database_unavailable": _error(
        "DatabaseUnavailable",
        "database_unavailable",
        "The database is not answering right now; try again shortly.",
    ),
    "upstream_timeout": _error(
        "UpstreamTimeout", "upstream_timeout", "OpenRouter did not answer in time."
    ),
}

# What each status means, and the codes it shows by default.
ERROR_STATUSES: dict[int, tuple[str, tuple[str, ...]]] = {
    400: ("The provider said the conversation does not fit the model", ("context_too_long",)),
    401: ("Missing, expired or invalid Bearer token", ("not_authenticated",)),
    409: ("The username is taken", ("username_taken",)),
    413: ("The request body is too large", ("payload_too_large",)),
    422: ("The request is not valid", ("invalid_input",)),
    429: ("Too many attempts from your IP address", ("ip_limit",)),
    502: ("The provider refused the request or sent an unreadable answer", ("upstream_rejected",)),
    503: ("The provider or the database is not available", ("upstream_unavailable",)),
    504: ("The provider did not answer in time", ("upstream_timeout",)),
}


def error_responses(
    *statuses: int,
    codes: dict[int, tuple[str, ...]] | None = None,
    descriptions: dict[int, str] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the error model, a description and examples for each status.

    `codes` picks other examples from ERROR_EXAMPLES for a status, e.g. the chat routes'
    401 also shows `daily_limit` and `burst_limit`.
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, default_codes = ERROR_STATUSES.get(status, ("Error", ()))
        chosen = (codes or {}).get(status, default_codes)
        examples = {code: {"summary": code, "value": ERROR_EXAMPLES[code]} for code in chosen}
        responses[status] = {
            "model": ErrorResponse,
            "description": (descriptions or {}).get(status, description),
            "content": {"application/json": {"examples": examples}} if examples else {},
        }
    return responses
