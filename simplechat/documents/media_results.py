"""The `media_results` collection: every speech or picture turned into text, for its user."""

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from simplechat.documents.base import utcnow


class MediaResultDoc(Document):
    user_id: str  # the user's id as hex: see DEVELOPERS.md on ObjectId fields
    kind: str  # "speech" | "picture"
    engine: str  # e.g. "pocketsphinx", "rapidocr", "dashscope/qwen-vl-ocr"
    size_bytes: int  # the upload as received
    duration_ms: int | None = None  # speech
    width: int | None = None  # pictures
    height: int | None = None
    text: str
    cost: int = 0  # 1/10,000 credit, at the engine's price (0: free)
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "media_results"
        indexes = [IndexModel([("user_id", ASCENDING)], name="user")]
