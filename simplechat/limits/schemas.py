"""Limits wire models."""

from datetime import datetime

from pydantic import BaseModel, Field


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
