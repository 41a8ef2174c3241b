"""Value types shared by every layer: chat messages, usage, completions, stream chunks."""

from dataclasses import dataclass
from enum import StrEnum

from simplechat.llm.pricing import Price


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a prompt. `tokens` is its stored token count, when known."""

    role: Role
    content: str
    tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model users can ask for: its public name, provider, upstream id, limits and price
    (None: free)."""

    name: str
    provider: str
    upstream_id: str
    context_window: int
    max_output_tokens: int
    description: str = ""
    price: Price | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole answer from a provider."""

    text: str
    model: str
    finish_reason: str = "stop"
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """A piece of a streamed answer. The last chunk carries `finish_reason` and, if known, usage."""

    delta: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
