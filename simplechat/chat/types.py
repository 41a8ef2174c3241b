"""What the chat services take and give: requests, replies, conversations and their stored
messages (the turn in between is in `turns`)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from simplechat.kit.pagination import Paged
from simplechat.llm.truncation import Truncated
from simplechat.llm.types import (
    NO_OPTIONS,
    ChatMessage,
    ContentPart,
    GenerationOptions,
    Role,
    Usage,
)
from simplechat.presets.types import PresetMessage


class Persona(StrEnum):
    PLAIN = "plain"
    ADVANCED = "advanced"
    OPENAI = "openai"  # the client brings its own messages (/v1/chat/completions)


@dataclass(frozen=True, slots=True)
class Sampling:
    """What an OpenAI-style client may ask for; None means the model's defaults.

    `options`: what a request asks beyond sampling (a conversation's stored sampling has
    none); `drop_unsupported`: what the model cannot take of it is dropped, not refused."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    options: GenerationOptions = NO_OPTIONS
    drop_unsupported: bool = False


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One message to answer: `text` (or `parts`, with images) with the conversation's prompt
    and history, or a client-supplied conversation (`messages`, OpenAI-style) whose last user
    message is stored. `conversation_id` None: the user's default conversation."""

    persona: Persona
    text: str = ""
    parts: tuple[ContentPart, ...] | None = None
    messages: Sequence[ChatMessage] | None = None
    model: str | None = None
    sampling: Sampling = Sampling()
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True)
class PresetSnapshot:
    """The preset a conversation was made from, as it was then."""

    id: str
    name: str
    description: str
    messages: tuple[PresetMessage, ...]


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    owner_id: str
    title: str
    title_auto: bool  # no title was given: the first message makes one
    model: str | None
    sampling: Sampling
    preset: PresetSnapshot | None
    message_count: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    prompt_tokens: int
    created_at: datetime
    updated_at: datetime
    bill: int = 0  # the sum of its answers' costs, in units of 1/10,000 credit

    @property
    def is_default(self) -> bool:
        """The user's default conversation (messages sent without a conversation)."""
        return self.id == self.owner_id


class MessageStatus(StrEnum):
    COMPLETE = "complete"  # a user message (answered or being answered), or a whole answer
    INCOMPLETE = "incomplete"  # an answer cut short
    UNANSWERED = "unanswered"  # a user message whose answer failed


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: str
    conversation_id: str
    role: Role
    text: str
    parts: tuple[ContentPart, ...] | None
    visible: bool
    input_tokens: int  # a user message's own tokens (0 for answers)
    output_tokens: int  # an answer's tokens (0 for user messages)
    prompt_tokens: int  # what the model read to write an answer (0 for user messages)
    model: str
    status: MessageStatus
    created_at: datetime
    key: str  # its place in the conversation (conversation_key)
    kind: str = "plain"  # the persona it was sent with (plain, advanced, openai)
    cost: int = 0  # an answer's cost, in units of 1/10,000 credit (0 for user messages)


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """A conversation with one page of its visible messages."""

    conversation: Conversation
    messages: Paged[StoredMessage]


@dataclass(frozen=True, slots=True)
class Tally:
    """What one exchange adds to its conversation's totals."""

    messages: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    prompt_tokens: int = 0
    cost: int = 0  # the answer's cost, in units of 1/10,000 credit (the conversation's bill)


@dataclass(frozen=True, slots=True)
class Regeneration:
    """A turn that answers an earlier user message again."""

    user_message_id: str
    superseded: tuple[str, ...]  # the answers it replaces (hidden once the new one is stored)
    reopen: bool  # the user message was unanswered: it is answered now


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a turn's messages go, and what the exchange adds to the conversation."""

    owner_id: str
    conversation_id: str
    default: bool  # the default conversation: created by the first message if need be
    user_tokens: int  # the new user message's tokens (0 when regenerating)
    title: str | None = None  # the conversation's title, when this message makes it
    regeneration: Regeneration | None = None


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
class HistoryEntry:
    role: str
    text: str
    created_at: datetime
    status: str
