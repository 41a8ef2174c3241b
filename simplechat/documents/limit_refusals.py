"""The `limit_refusals` collection: requests a limit refused, kept for the behaviour report."""

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from simplechat.documents.base import utcnow


class LimitRefusalDoc(Document):
    user_id: str
    code: str
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "limit_refusals"
        indexes = [IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)])]
