"""The `media_usage` collection: each user's speech and pictures of one day, the counters of
the daily media quotas (media/repository.py).

    {"_id": "<user id>:<YYYY-MM-DD>", "user_id", "day", "speech_ms": 41200, "pictures": 3}

One document per user and local day, created by the first conditional upsert that counts in
it: its `_id` is unique, so a second upsert whose condition fails collides (DuplicateKeyError)
instead of creating another.
"""

from beanie import Document


class MediaUsageDoc(Document):
    id: str  # type: ignore[assignment]  # "<user id>:<day>", not an ObjectId
    user_id: str
    day: str
    speech_ms: int = 0
    pictures: int = 0

    class Settings:
        name = "media_usage"
