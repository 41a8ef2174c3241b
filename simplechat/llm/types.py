"""Value types shared by every layer: chat messages, usage, completions, stream chunks."""

from dataclasses import dataclass, field, replace
from enum import StrEnum

from simplechat.llm.pricing import Price


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class PartType(StrEnum):
    TEXT = "text"
    IMAGE_URL = "image_url"


@dataclass(frozen=True, slots=True)
class ContentPart:
    """One part of a message with images (OpenAI's content parts): text, or an image's URL
    (https://... or a data: URL)."""

    type: PartType
    text: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a prompt. `content` is its text (every text part, joined); `parts` is
    set only when the message has images, and then is what providers send. `tokens` is its
    stored token count, when known."""

    role: Role
    content: str
    tokens: int | None = None
    parts: tuple[ContentPart, ...] | None = None

    @property
    def images(self) -> int:
        return sum(1 for part in self.parts or () if part.type is PartType.IMAGE_URL)

    def text_only(self) -> "ChatMessage":
        """The message without its images (for models that take text only)."""
        return self if self.parts is None else replace(self, parts=None)


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
    takes_images: bool = False  # accepts image parts (OpenAI-style image_url) in messages
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


@dataclass(frozen=True, slots=True)
class GenerationParams:
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    # The caller's own provider key (bring your own key): used for this call instead of the
    # server's. Never logged; repr hides it.
    api_key: str | None = field(default=None, repr=False)
