"""AvatarRepository: each user's avatar JPEG in the `avatars` collection."""

import time

from bson import Binary

from simplechat.accounts.types import Avatar
from simplechat.documents.avatars import AvatarDoc


class AvatarRepository:
    async def put(self, *, user_id: str, username: str, data: bytes, etag: str) -> None:
        # update_one with upsert: the embedded server ignores the filter's _id in replace_one
        # upserts (see DEVELOPERS.md)
        await AvatarDoc.get_pymongo_collection().update_one(
            {"_id": user_id},
            {
                "$set": {
                    "username": username,
                    "data": Binary(data),
                    "etag": etag,
                    "updated_ms": int(time.time() * 1000),
                }
            },
            upsert=True,
        )

    async def by_user_id(self, user_id: str) -> Avatar | None:
        doc = await AvatarDoc.get_pymongo_collection().find_one({"_id": user_id})
        return Avatar(bytes(doc["data"]), str(doc["etag"])) if doc else None

    async def by_username(self, username: str) -> Avatar | None:
        doc = await AvatarDoc.get_pymongo_collection().find_one({"username": username})
        return Avatar(bytes(doc["data"]), str(doc["etag"])) if doc else None

    async def delete(self, user_id: str) -> None:
        await AvatarDoc.get_pymongo_collection().delete_one({"_id": user_id})
