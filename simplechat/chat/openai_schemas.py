"""OpenAI-compatible wire models for /v1 (field names exist only here, at the edge)."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from simplechat.chat.schemas import (
    CONVERSATION_ID,
    ImagePart,
    TextPart,
    UsagePublic,
    parts_to_domain,
)
from simplechat.llm.types import ChatMessage, Role

MAX_TOKENS = 1_000_000  # as /llm/message takes
ROLES = {
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
}


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]  # no audio yet


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart] | None = None

    def to_domain(self) -> ChatMessage:
        if not isinstance(self.content, list):
            return ChatMessage(ROLES[self.role], self.content or "")
        text, parts = parts_to_domain(self.content)
        has_images = len(parts) != sum(1 for p in self.content if isinstance(p, TextPart))
        return ChatMessage(ROLES[self.role], text, parts=parts if has_images else None)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request; fields simplechat does not use are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str | None = Field(default=None, examples=["mistralai/mistral-7b-instruct"])
    messages: list[OpenAIMessage] = Field(
        min_length=1, examples=[[{"role": "user", "content": "hi, my name is Eric"}]]
    )
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    # simplechat's own: the openai SDK sends it with extra_body={"conversation_id": ...}
    conversation_id: str | None = CONVERSATION_ID

    def to_domain(self) -> list[ChatMessage]:
        return [message.to_domain() for message in self.messages]


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: UsagePublic | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str
    context_window: int
    max_output_tokens: int


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None
    param: Any = None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail
