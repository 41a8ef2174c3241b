"""Chat wire models: what /llm and /user/history accept and return."""

from typing import Literal

from pydantic import BaseModel, Field

from simplechat.kit.http import RequestModel
from simplechat.llm.types import Usage


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


# Example error bodies by code, for the API docs.

# What each status means, and the codes it shows by default.
