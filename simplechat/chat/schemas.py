"""Chat wire models: what /llm and /user/history accept and return."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from simplechat.kit.http import RequestModel
from simplechat.llm.types import ContentPart, ModelSpec, PartType, Usage

# An image is a web address or the picture itself as a data: URL (OpenAI's two forms).
IMAGE_URL_PATTERN = r"^(https?://\S+|data:image/[a-zA-Z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+)$"
CONVERSATION_ID = Field(
    default=None,
    examples=["6b01b59ab1945f3903016ee2"],
    description="The conversation to chat in (GET /conversations); your default conversation "
    "when omitted",
)


class ImageUrl(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI's `detail`, DashScope's pixel bounds
    url: str = Field(
        pattern=IMAGE_URL_PATTERN,
        examples=[
            "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"
        ],
        description="https://... or data:image/...;base64,...",
    )


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: str = ""

    def to_domain(self) -> ContentPart:
        return ContentPart(PartType.TEXT, text=self.text)


class ImagePart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["image_url"]
    image_url: ImageUrl

    def to_domain(self) -> ContentPart:
        return ContentPart(PartType.IMAGE_URL, url=self.image_url.url)


ContentPartIn = Annotated[TextPart | ImagePart, Field(discriminator="type")]


def parts_to_domain(parts: list[TextPart | ImagePart]) -> tuple[str, tuple[ContentPart, ...]]:
    """(the text parts joined, every part) of OpenAI-style content parts."""
    domain = tuple(part.to_domain() for part in parts)
    text = "\n".join(part.text for part in domain if part.type is PartType.TEXT)
    return text, domain


Text = Annotated[str, Field(min_length=1, json_schema_extra={"pattern": r"\S"})]
Parts = Annotated[list[ContentPartIn], Field(min_length=1)]


class _Message(RequestModel):
    message: Text | Parts = Field(
        examples=["hi, my name is Eric"],
        description="What you say to the assistant (not only white space): text, or "
        "OpenAI-style content parts, with images for models that take them",
    )
    model: str | None = Field(
        default=None,
        examples=["mistralai/mistral-7b-instruct"],
        description="A model name from the catalog; the server's default when omitted",
    )

    def content(self) -> tuple[str, tuple[ContentPart, ...] | None]:
        """(text, parts): parts only when the message has images."""
        if isinstance(self.message, str):
            return self.message, None
        text, parts = parts_to_domain(self.message)
        has_images = any(p.type is PartType.IMAGE_URL for p in parts)
        return text, parts if has_images else None


class MessageRequest(_Message):
    stream: bool = Field(
        default=False,
        description="Answer with server-sent events (also chosen by Accept: text/event-stream)",
    )
    conversation_id: str | None = CONVERSATION_ID


class TaskRequest(_Message):
    """A message answered in the background (POST /conversations/{id}/tasks)."""

    model: str | None = Field(
        default=None,
        examples=[None],
        description="A model name from the catalog; the conversation's when omitted",
    )
    persona: Literal["plain", "advanced"] = Field(
        default="plain",
        description="plain: as /llm/message; advanced: as /llm/message/advanced",
    )
    temperature: float | None = Field(default=None, ge=0, le=2, examples=[None])
    top_p: float | None = Field(default=None, gt=0, le=1, examples=[None])
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000, examples=[None])


class TaskCreated(BaseModel):
    task_id: str = Field(examples=["3f0c2a9e8b7d4c1fa6e5d4c3b2a19080"])
    status: Literal["queued", "running", "done", "failed", "cancelled"] = Field(examples=["queued"])
    stream_token: str = Field(
        examples=["q8Xw3n0J9s2Yb1Lr4Vt6Zc5Hm7Kd0Fp"],
        description="Shown once: resumes the task's stream (GET /tasks/{id}/stream with "
        "?stream_token= or X-Stream-Token, and Last-Event-ID) after a dropped connection",
    )


class CapabilitiesPublic(BaseModel):
    """What a model can do (its `supported_parameters` say it in detail)."""

    tools: bool = Field(description="Calls tools (tools, tool_choice)")
    vision: bool = Field(description="Reads image parts in messages")
    json_output: bool = Field(description="Answers JSON (response_format json_object)")
    structured_outputs: bool = Field(description="Follows a JSON Schema (json_schema)")
    reasoning: bool = Field(description="Thinks first (reasoning_effort, reasoning)")

    @classmethod
    def from_domain(cls, spec: ModelSpec) -> "CapabilitiesPublic":
        return cls(
            tools=spec.tools,
            vision=spec.takes_images,
            json_output=spec.json_output,
            structured_outputs=spec.structured_outputs,
            reasoning=spec.reasoning,
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
