"""The `media_overrides` collection: a user's own daily media quotas, set by an admin.

    {"_id": "<user id>", "speech_seconds_daily": 1800, "pictures_daily": null}

A missing document, or a null field, means the server's default quota.
"""

from beanie import Document


class MediaOverridesDoc(Document):
    id: str  # type: ignore[assignment]  # the user's id as hex
    speech_seconds_daily: int | None = None
    pictures_daily: int | None = None

    class Settings:
        name = "media_overrides"
