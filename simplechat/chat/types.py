"""What the chat service takes and gives: requests, replies and the turn in between."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from simplechat.limits.service import Admission
from simplechat.llm.base import GenerationParams, Provider
from simplechat.llm.truncation import Truncated
from simplechat.llm.types import ChatMessage, ModelSpec, Usage


class Persona(StrEnum):
    PLAIN = "plain"
    ADVANCED = "advanced"
    OPENAI = "openai"  # the client brings its own messages (/v1/chat/completions)


@dataclass(frozen=True, slots=True)
class Sampling:
    """What an OpenAI-style client may ask for; None means the model's defaults."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One message to answer: `text` with the persona's prompt and the user's history, or a
    client-supplied conversation (`messages`, OpenAI-style) whose last user message is stored."""

    persona: Persona
    text: str = ""
    messages: Sequence[ChatMessage] | None = None
    model: str | None = None
    sampling: Sampling = Sampling()


@dataclass(frozen=True, slots=True)
class ChatReply:
    text: str
    model: str
    usage: Usage | None
    prompt: Truncated
    mock: bool
    message_id: str
    reply_id: str
    finish_reason: str = "stop"


@dataclass(frozen=True, slots=True)
class Turn:
    """An admitted request whose user message is stored and whose prompt is built."""

    user_id: str
    model: ModelSpec
    provider: Provider
    persona: Persona
    admission: Admission  # what the limits took, handed back when the call fails
    message_id: str
    candidates: tuple[ChatMessage, ...]  # the whole prompt before middle-out
    prompt: Truncated
    params: GenerationParams

    @property
    def mock(self) -> bool:
        return self.provider.name == "mock"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    role: str
    text: str
    created_at: datetime
    status: str
