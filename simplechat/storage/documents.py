"""Beanie documents: the only place the database's shape is declared.

References to other documents (owner, conversation, reply) are stored as hex strings: the
embedded server cannot match ObjectId-valued fields other than `_id` by equality.

Times that are only written once at insert are BSON dates. Times that are rewritten by
`find_one_and_update` (the burst-limit slots in `UserDoc.lim`) are integer epoch milliseconds:
they compare the same way everywhere, and the embedded server stores a date set through
`$set` as a string.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UserRole(StrEnum):
    USER = "user"
    ADMIN = "admin"


class UserDoc(Document):
    username: str
    password_hash: str
    role: UserRole = UserRole.USER
    created_at: datetime = Field(default_factory=utcnow)
    disabled: bool = False
    # The chat limits' counters, managed by storage/limits.py: {"day", "count", "s0".."sN"}
    lim: dict[str, Any] = Field(default_factory=lambda: {"day": "", "count": 0})

    class Settings:
        name = "users"
        indexes = [IndexModel([("username", ASCENDING)], unique=True, name="username_unique")]


class MessageStatus(StrEnum):
    SENT = "sent"  # a user message (its reply, once in, points back with `reply_to`)
    UNANSWERED = "unanswered"  # a user message whose provider call failed or was abandoned
    COMPLETE = "complete"  # a whole reply
    INCOMPLETE = "incomplete"  # a reply cut short (stream aborted)


class UsageEmbedded(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False  # counted locally because the provider never reported usage


class MessageDoc(Document):
    owner_id: str  # the user's id as hex: see DEVELOPERS.md on ObjectId fields
    role: str  # "user" | "assistant"
    text: str  # always the raw text, before any middle-out
    tokens: int  # cl100k_base count of `text`, so history is never re-tokenized
    chars: int = 0  # len(text), for the behaviour report
    model: str
    kind: str = "plain"  # "plain" | "advanced" | later "openai"
    status: MessageStatus
    created_at: datetime = Field(default_factory=utcnow)
    conversation_id: str | None = None
    reply_to: str | None = None
    usage: UsageEmbedded | None = None
    error_code: str | None = None
    # "<owner_id>:<created_at as 13-digit epoch ms>:<_id>": one owner's messages in time order,
    # as a range of one single-field index (the embedded server uses no compound index, and
    # would otherwise sort all of a user's messages to read the newest few).
    history_key: str = ""

    class Settings:
        name = "messages"
        indexes = [
            IndexModel([("history_key", ASCENDING)], name="history_key"),
            IndexModel([("owner_id", ASCENDING)], name="owner"),
            IndexModel(
                [
                    ("owner_id", ASCENDING),
                    ("conversation_id", ASCENDING),
                    ("created_at", DESCENDING),
                ],
                name="owner_conversation_time",
            ),
        ]


class LimitRefusalDoc(Document):
    """A request refused by a limit, kept for the behaviour report."""

    user_id: str
    code: str
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "limit_refusals"
        indexes = [IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)])]


DOCUMENT_MODELS: list[type[Document]] = [
    UserDoc,
    MessageDoc,
    LimitRefusalDoc,
]
