"""The `refresh_tokens` collection: one document per refresh token, stored as a hash only.

A login starts a family; each refresh marks its token used and adds the next one to the same
family, so a used token presented again (a stolen copy) can revoke the whole family. Documents
disappear at `expires_at` (TTL index).
"""

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from simplechat.documents.base import utcnow


class RefreshTokenDoc(Document):
    token_hash: str  # sha256 hex of the token; the token itself is never stored
    user_id: str  # hex: see DEVELOPERS.md on ObjectId fields
    family: str
    epoch: int  # the user's token_epoch when the family started
    expires_at: datetime
    created_at: datetime = Field(default_factory=utcnow)
    used: bool = False

    class Settings:
        name = "refresh_tokens"
        indexes = [
            IndexModel([("token_hash", ASCENDING)], unique=True, name="token_hash_unique"),
            IndexModel([("user_id", ASCENDING)], name="user"),
            IndexModel([("family", ASCENDING)], name="family"),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expiry_ttl"),
        ]
