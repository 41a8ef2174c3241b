"""The `audit_log` collection: every admin action (who, what, on whom, when, from where)."""

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from simplechat.documents.base import utcnow


class AuditEntryDoc(Document):
    at: datetime = Field(default_factory=utcnow)
    actor_id: str | None  # None for the command line
    actor: str  # the admin's username, or "(command line)"
    action: str  # e.g. "user.update", "admin.promote"
    target_id: str | None
    target: str | None  # the username acted on
    ip: str | None
    details: dict[str, Any] = Field(default_factory=dict)

    class Settings:
        name = "audit_log"
        indexes = [IndexModel([("at", ASCENDING)], name="at")]
