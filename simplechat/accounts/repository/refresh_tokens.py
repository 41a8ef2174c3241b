"""RefreshTokenRepository: refresh tokens (their hashes) in the `refresh_tokens` collection."""

from dataclasses import dataclass
from datetime import datetime

from simplechat.documents.refresh_tokens import RefreshTokenDoc


@dataclass(frozen=True, slots=True)
class StoredRefreshToken:
    user_id: str
    family: str
    epoch: int
    used: bool


class RefreshTokenRepository:
    async def add(
        self, *, token_hash: str, user_id: str, family: str, epoch: int, expires_at: datetime
    ) -> None:
        await RefreshTokenDoc.get_pymongo_collection().insert_one(
            {
                "token_hash": token_hash,
                "user_id": user_id,
                "family": family,
                "epoch": epoch,
                "expires_at": expires_at,
                "created_at": datetime.now(expires_at.tzinfo),
                "used": False,
            }
        )

    async def find(self, token_hash: str) -> StoredRefreshToken | None:
        doc = await RefreshTokenDoc.get_pymongo_collection().find_one({"token_hash": token_hash})
        if doc is None:
            return None
        return StoredRefreshToken(
            user_id=str(doc["user_id"]),
            family=str(doc["family"]),
            epoch=int(doc["epoch"]),
            used=bool(doc["used"]),  # the embedded server gives a $set True back as 1
        )

    async def use(self, token_hash: str, now: datetime) -> bool:
        """Mark the token used if it is unused and unexpired: the one conditional update that
        decides a rotation, so of parallel refreshes with one token exactly one wins."""
        won = await RefreshTokenDoc.get_pymongo_collection().find_one_and_update(
            {"token_hash": token_hash, "used": False, "expires_at": {"$gt": now}},
            {"$set": {"used": True}},
            projection={"_id": 1},
        )
        return won is not None

    async def remove(self, token_hash: str) -> None:
        await RefreshTokenDoc.get_pymongo_collection().delete_one({"token_hash": token_hash})

    async def revoke_family(self, family: str) -> int:
        result = await RefreshTokenDoc.get_pymongo_collection().delete_many({"family": family})
        return result.deleted_count

    async def revoke_user(self, user_id: str) -> int:
        result = await RefreshTokenDoc.get_pymongo_collection().delete_many({"user_id": user_id})
        return result.deleted_count
