"""The `messages` collection: every chat message and reply, with its token count."""

from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from simplechat.documents.base import utcnow


class MessageStatus(StrEnum):
    SENT = "sent"  # a user message (its reply, once in, points back with `reply_to`)
    UNANSWERED = "unanswered"  # a user message whose provider call failed or was abandoned
    COMPLETE = "complete"  # a whole reply
    INCOMPLETE = "incomplete"  # a reply cut short (stream aborted)


class PartEmbedded(BaseModel):
    type: str  # "text" | "image_url"
    text: str = ""
    url: str = ""


class UsageEmbedded(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False  # counted locally because the provider never reported usage


class MessageDoc(Document):
    owner_id: str  # the user's id as hex: see DEVELOPERS.md on ObjectId fields
    # The conversation's id as hex; the user's default conversation has the user's id.
    conversation_id: str = ""
    role: str  # "user" | "assistant"
    text: str  # always the raw text (every text part, joined), before any middle-out
    parts: list[PartEmbedded] | None = None  # the content parts, when the message has images
    # cl100k_base count of `text` (plus a fixed estimate per image), so history is never
    # re-tokenized
    tokens: int
    visible: bool = True  # False: an answer replaced by a regeneration (kept, never shown)
    chars: int = 0  # len(text), for the behaviour report
    model: str
    kind: str = "plain"  # "plain" | "advanced" | "openai"
    status: MessageStatus
    created_at: datetime = Field(default_factory=utcnow)
    reply_to: str | None = None
    usage: UsageEmbedded | None = None
    error_code: str | None = None
    # An answer's cost at its model's price, in units of 1/10,000 credit (0 for user messages
    # and free models); its conversation's `bill` is the sum of these.
    cost: int = 0
    # "<owner_id>:<created_at as 13-digit epoch ms>:<_id>": one owner's messages in time order,
    # as a range of one single-field index (the embedded server uses no compound index, and
    # would otherwise sort all of a user's messages to read the newest few).
    history_key: str = ""
    # "<conversation_id>:<created_at as 13-digit epoch ms>:<_id>": one conversation's messages
    # in time order, the same way (its first and its newest messages are two bounded ranges).
    conversation_key: str = ""

    class Settings:
        name = "messages"
        indexes = [
            IndexModel([("history_key", ASCENDING)], name="history_key"),
            IndexModel([("conversation_key", ASCENDING)], name="conversation_key"),
            IndexModel([("owner_id", ASCENDING)], name="owner"),
        ]
