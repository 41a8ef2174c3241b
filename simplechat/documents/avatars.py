"""The `avatars` collection: each user's avatar, a 128x128 JPEG, keyed by the user's id."""

from beanie import Document
from pymongo import ASCENDING, IndexModel


class AvatarDoc(Document):
    id: str  # type: ignore[assignment]  # the owner's user id (hex), one avatar per user
    username: str  # for GET /users/{username}/avatar in one read
    data: bytes  # BSON binary
    etag: str
    updated_ms: int  # epoch ms (rewritten by updates: see DEVELOPERS.md on dates in $set)

    class Settings:
        name = "avatars"
        indexes = [IndexModel([("username", ASCENDING)], unique=True, name="username_unique")]
