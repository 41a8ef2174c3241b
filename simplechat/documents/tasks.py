"""The `tasks` collection: work that outlives the request that asked for it (an answer
generated in the background), its output so far and its outcome.

One document per task. The output is `out`, a list of plain strings, one per flushed batch
(`$push` of a string: safe on the embedded server, which stores pushed sub-documents as JSON
text); a batch's place in the list (1-based) is its event id on the stream. The outcome
(`final`, the last event's data) is a JSON string for the same reason.

Times rewritten by updates (`lease_ms`, `finished_ms`) are epoch milliseconds (see
DEVELOPERS.md). Every filter uses one single-field index: `list_key` (a user's tasks, newest
first, and their deletion), `status` (the live tasks the sweeper checks) and `finished_ms`
(finished tasks past their keeping time).
"""

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from simplechat.documents.base import utcnow


class TaskDoc(Document):
    id: str  # type: ignore[assignment]  # a uuid4's hex
    owner_id: str
    kind: str  # which registered handler runs it ("chat")
    status: str  # queued | running | done | failed | cancelled
    stream_hash: str  # sha256 of the stream token (the token itself is never stored)
    claimed: bool = False  # its one stream was claimed (read with bool(): $set stores 1)
    payload: dict[str, Any] = Field(default_factory=dict)  # the kind's own, opaque here
    out: list[str] = Field(default_factory=list)  # the output, one string per batch
    lease_ms: int = 0  # a live task not renewed by then is abandoned (its worker died)
    worker: str = ""  # the process running it (diagnostics)
    final: str = ""  # the last event's data, as JSON ("" until it ends)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    has_usage: bool = False
    cost: int = 0  # units of 1/10,000 credit
    created_at: datetime = Field(default_factory=utcnow)
    finished_ms: int = 0  # 0 while live
    # "<owner_id>:<created ms as 13 digits>:<_id>": a user's tasks, newest first, as a range
    list_key: str = ""

    class Settings:
        name = "tasks"
        indexes = [
            IndexModel([("list_key", ASCENDING)], name="list_key"),
            IndexModel([("status", ASCENDING)], name="status"),
            IndexModel([("finished_ms", ASCENDING)], name="finished_ms"),
        ]
