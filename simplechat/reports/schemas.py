"""Behaviour report wire models."""

from datetime import datetime

from pydantic import BaseModel, Field


class DayCount(BaseModel):
    date: str = Field(examples=["2026-11-21"])
    count: int = Field(examples=[3])


class ReportTotals(BaseModel):
    messages: int = Field(description="Messages you sent", examples=[3])
    replies: int = Field(description="Answers you received", examples=[3])
    plain: int = Field(description="Messages sent to /llm/message", examples=[2])
    advanced: int = Field(description="Messages sent to /llm/message/advanced", examples=[1])
    openai: int = Field(description="Messages sent to /v1/chat/completions", examples=[0])


class ReportTokens(BaseModel):
    prompt: int = Field(examples=[96])
    completion: int = Field(examples=[41])
    total: int = Field(examples=[137])


class ReportMedia(BaseModel):
    recordings: int = Field(description="Recordings turned into text", examples=[2])
    speech_seconds: float = Field(description="Their total length", examples=[41.2])
    pictures: int = Field(description="Pictures turned into text", examples=[3])


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
    media: ReportMedia = Field(description="Speech and pictures turned into text")
    first_activity: datetime | None = Field(examples=["2026-11-21T15:14:32Z"])
    last_activity: datetime | None = Field(examples=["2026-11-21T15:16:05Z"])
