"""RoleRepository: who is an admin, and the rule that the last admin stays.

The number of admins is kept in `role_counts` as a lower bound (see documents/role_counts.py):
taking an admin away first takes one from the count with the condition `n > 1` (one
conditional update: of two admins demoting each other at once, one is refused), then changes
the user, and gives the count back if the user was no admin after all. Making an admin changes
the user first, then adds to the count. A crash between the two steps leaves the count low,
which only ever refuses a demotion, never allows the last one.

Admins are never disabled (demote first), so every counted admin can log in. A role change
moves the user to a new token epoch (every access token issued before stops working: a demoted
admin's session does not keep the admin's token).
"""

from enum import Enum
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from simplechat.accounts.repository.users import oid, users
from simplechat.accounts.types import Role
from simplechat.documents.role_counts import RoleCountDoc

ADMIN_COUNT_ID = "admin"


class Removal(Enum):
    DONE = "done"
    LAST_ADMIN = "last_admin"
    NOT_ADMIN = "not_admin"


def _counts() -> AsyncCollection[dict[str, Any]]:
    return RoleCountDoc.get_pymongo_collection()


class RoleRepository:
    async def promote(self, user_id: str) -> bool:
        """Make an enabled normal user an admin; False when there is no such user."""
        result = await users().update_one(
            {"_id": oid(user_id), "role": Role.USER.value, "disabled": False},
            {"$set": {"role": Role.ADMIN.value}, "$inc": {"token_epoch": 1}},
        )
        if result.matched_count != 1:
            return False
        await _counts().update_one({"_id": ADMIN_COUNT_ID}, {"$inc": {"n": 1}}, upsert=True)
        return True

    async def demote(self, user_id: str) -> Removal:
        return await self._remove_admin(
            user_id, {"$set": {"role": Role.USER.value}, "$inc": {"token_epoch": 1}}
        )

    async def retire(self, user_id: str) -> Removal:
        """Demote and disable an admin in one step, before their account is deleted."""
        return await self._remove_admin(
            user_id,
            {"$set": {"role": Role.USER.value, "disabled": True}, "$inc": {"token_epoch": 1}},
        )

    async def admin_count(self) -> int:
        doc = await _counts().find_one({"_id": ADMIN_COUNT_ID})
        return int(doc["n"]) if doc else 0

    async def _remove_admin(self, user_id: str, update: dict[str, Any]) -> Removal:
        reserved = await _counts().find_one_and_update(
            {"_id": ADMIN_COUNT_ID, "n": {"$gt": 1}}, {"$inc": {"n": -1}}, projection={"n": 1}
        )
        if reserved is None:  # nothing taken: only now ask whether it mattered
            admin = await users().find_one({"_id": oid(user_id), "role": Role.ADMIN.value})
            return Removal.LAST_ADMIN if admin is not None else Removal.NOT_ADMIN
        result = await users().update_one({"_id": oid(user_id), "role": Role.ADMIN.value}, update)
        if result.matched_count != 1:
            await _counts().update_one({"_id": ADMIN_COUNT_ID}, {"$inc": {"n": 1}})
            return Removal.NOT_ADMIN
        return Removal.DONE
