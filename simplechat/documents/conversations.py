"""The `conversations` collection: a user's conversations, their settings and running totals.

The user's default conversation (where messages sent without a conversation go) has the
user's id as its `_id`, so it is found without a query and created at most once: the first
message upserts it, and the unique `_id` makes parallel first messages agree on one.
"""

from datetime import datetime

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from simplechat.documents.base import utcnow


class SnapshotMessageEmbedded(BaseModel):
    role: str  # "system" | "user" | "assistant"
    content: str
    visible: bool = True


class PresetSnapshotEmbedded(BaseModel):
    """The preset as it was when the conversation was made from it (later changes to the
    preset, or its deletion, do not touch the conversation)."""

    id: str
    name: str
    description: str = ""
    messages: list[SnapshotMessageEmbedded] = Field(default_factory=list)


class ConversationDoc(Document):
    owner_id: str  # the user's id as hex: see DEVELOPERS.md on ObjectId fields
    title: str
    # title.casefold(): searched with a case-sensitive regex (one with the "i" option makes
    # the embedded server scan the whole collection)
    title_folded: str = ""
    title_auto: bool = False  # no title was given: the first message makes one
    model: str | None = None  # None: the server's default model
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    preset: PresetSnapshotEmbedded | None = None
    # Running totals, kept by one $inc with each exchange (never recomputed by scanning).
    message_count: int = 0
    input_tokens: int = 0  # the user messages' tokens
    output_tokens: int = 0  # the answers' tokens
    total_tokens: int = 0  # input + output
    prompt_tokens: int = 0  # what the model read over every call (history and preset included)
    bill: int = 0  # the sum of its answers' `cost` (units of 1/10,000 credit), $inc'ed with them
    created_at: datetime = Field(default_factory=utcnow)
    # Rewritten with every message (by $max, so parallel messages never move it back), hence
    # an integer: see DEVELOPERS.md on dates written by updates.
    updated_ms: int = 0
    # "<owner_id>:<updated_ms as 13 digits>:<_id>": a user's conversations, most recently
    # updated first, as a range of one single-field index (as messages' history_key).
    list_key: str = ""

    class Settings:
        name = "conversations"
        indexes = [IndexModel([("list_key", ASCENDING)], name="list_key")]
