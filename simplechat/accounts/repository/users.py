"""UserRepository: accounts in the `users` collection."""

import secrets
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from beanie import PydanticObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from simplechat.accounts.rules import prefix_range, wechat_username
from simplechat.accounts.types import ProfileChanges, Role, User, UserQuery, UserSort
from simplechat.documents.users import UserDoc
from simplechat.kit.errors import UsernameTaken

# Everything a User shows, plus what authentication needs (the hash never leaves this module
# except as Credentials).
_FIELDS = {
    "username": 1,
    "role": 1,
    "created_at": 1,
    "email": 1,
    "display_name": 1,
    "disabled": 1,
    "password_hash": 1,
    "active_ms": 1,
    "token_epoch": 1,
    "login_tags": 1,
}
_SORTS: dict[UserSort, list[tuple[str, int]]] = {
    UserSort.CREATED: [("created_at", ASCENDING), ("_id", ASCENDING)],
    UserSort.CREATED_DESC: [("created_at", DESCENDING), ("_id", DESCENDING)],
    UserSort.ACTIVE: [("active_ms", ASCENDING), ("_id", ASCENDING)],
    UserSort.ACTIVE_DESC: [("active_ms", DESCENDING), ("_id", DESCENDING)],
    UserSort.USERNAME: [("username", ASCENDING)],
}
WECHAT_CREATE_ATTEMPTS = 5  # each round reads first, so a won insert is found by the next


@dataclass(frozen=True, slots=True)
class Credentials:
    user: User
    password_hash: str  # "" when the account has none
    epoch: int  # the token epoch: access and refresh tokens of another epoch are revoked
    login_tags: tuple[str, ...] = ()  # where the last successful logins came from (hashed)


def oid(user_id: str) -> PydanticObjectId | None:
    try:
        return PydanticObjectId(user_id)
    except (InvalidId, TypeError):
        return None


def to_user(doc: dict[str, Any]) -> User:
    active_ms = doc.get("active_ms")
    return User(
        id=str(doc["_id"]),
        username=doc["username"],
        role=str(doc.get("role", Role.USER)),
        created_at=doc["created_at"],
        email=doc.get("email"),
        display_name=doc.get("display_name"),
        disabled=bool(doc.get("disabled")),  # the embedded server gives a $set True back as 1
        has_password=bool(doc.get("password_hash")),
        last_active_at=datetime.fromtimestamp(active_ms / 1000, UTC) if active_ms else None,
    )


def _credentials(doc: dict[str, Any]) -> Credentials:
    return Credentials(
        to_user(doc),
        str(doc.get("password_hash") or ""),
        int(doc.get("token_epoch", 0)),
        tuple(str(tag) for tag in doc.get("login_tags") or ()),
    )


def users() -> AsyncCollection[dict[str, Any]]:
    return UserDoc.get_pymongo_collection()


class UserRepository:
    async def create(
        self,
        *,
        username: str,
        password_hash: str,
        role: Role = Role.USER,
        email: str | None = None,
        display_name: str | None = None,
    ) -> User:
        doc = UserDoc(
            username=username,
            password_hash=password_hash,
            role=role,
            email=email,
            display_name=display_name,
        )
        try:
            await doc.insert()
        except DuplicateKeyError as exc:
            raise UsernameTaken(f"The username '{username}' is already taken.") from exc
        return to_user(doc.model_dump(by_alias=True))

    async def credentials_by_username(self, username: str) -> Credentials | None:
        """An enabled account's user, password hash and token epoch, for logging in."""
        doc = await users().find_one({"username": username, "disabled": False}, _FIELDS)
        return _credentials(doc) if doc else None

    async def credentials(self, user_id: str) -> Credentials | None:
        key = oid(user_id)
        doc = await users().find_one({"_id": key, "disabled": False}, _FIELDS) if key else None
        return _credentials(doc) if doc else None

    async def get(self, user_id: str) -> User | None:
        """An enabled account (None when it does not exist or is disabled)."""
        found = await self.credentials(user_id)
        return found.user if found else None

    async def by_username(self, username: str) -> User | None:
        """Any account, enabled or not (for admins)."""
        doc = await users().find_one({"username": username}, _FIELDS)
        return to_user(doc) if doc else None

    async def wechat_user(self, openid: str, unionid: str | None) -> Credentials:
        """The account of this openid, created on its first login. Parallel first logins make
        one account: the unique openid index lets one insert win and the others find it."""
        for _ in range(WECHAT_CREATE_ATTEMPTS):
            doc = await users().find_one({"wechat_openid": openid}, _FIELDS)
            if doc is not None:
                return _credentials(doc)
            new = UserDoc(
                username=wechat_username(secrets.token_hex(8)),
                password_hash="",
                wechat_openid=openid,
                wechat_unionid=unionid,
            )
            # a parallel login may win the openid (or, rarely, the random username)
            with suppress(DuplicateKeyError):
                await new.insert()
        raise UsernameTaken("Could not create the WeChat account; try again.")

    async def update_profile(self, user_id: str, changes: ProfileChanges) -> User | None:
        values = {name: getattr(changes, name) for name in changes.fields}
        if not values:  # MongoDB refuses an empty $set
            doc = await users().find_one({"_id": oid(user_id), "disabled": False}, _FIELDS)
            return to_user(doc) if doc else None
        doc = await users().find_one_and_update(
            {"_id": oid(user_id)},
            {"$set": values},
            projection=_FIELDS,
            return_document=ReturnDocument.AFTER,
        )
        return to_user(doc) if doc else None

    async def set_password(self, user_id: str, password_hash: str) -> int | None:
        """Store a new password hash and move to a new token epoch (which revokes every refresh
        token issued before); the new epoch, or None when the user is gone."""
        doc = await users().find_one_and_update(
            {"_id": oid(user_id)},
            {"$set": {"password_hash": password_hash}, "$inc": {"token_epoch": 1}},
            projection={"token_epoch": 1},
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["token_epoch"]) if doc else None

    async def revoke_tokens(self, user_id: str) -> bool:
        """Move to a new token epoch: every access and refresh token issued before stops
        working ("log out everywhere"). False when the user is gone or disabled."""
        result = await users().update_one(
            {"_id": oid(user_id), "disabled": False}, {"$inc": {"token_epoch": 1}}
        )
        return result.matched_count == 1

    async def remember_login(self, user_id: str, tags: tuple[str, ...]) -> None:
        """Where the account's last successful logins came from (see accounts/throttles.py)."""
        await users().update_one({"_id": oid(user_id)}, {"$set": {"login_tags": list(tags)}})

    async def set_disabled(self, user_id: str, disabled: bool) -> bool:
        """Disable or enable a normal user (admins are never disabled: demote them first).
        Disabling moves to a new token epoch. False when no such normal user exists."""
        update: dict[str, Any] = {"$set": {"disabled": disabled}}
        if disabled:
            update["$inc"] = {"token_epoch": 1}
        result = await users().update_one({"_id": oid(user_id), "role": Role.USER.value}, update)
        return result.matched_count == 1

    async def retire(self, user_id: str) -> bool:
        """Disable a normal user for good, before their data is removed: they cannot log in or
        chat anymore. False when no such normal user exists (maybe an admin)."""
        result = await users().update_one(
            {"_id": oid(user_id), "role": Role.USER.value},
            {"$set": {"disabled": True}, "$inc": {"token_epoch": 1}},
        )
        return result.matched_count == 1

    async def delete_retired(self, user_id: str) -> None:
        """Delete a retired (disabled) account: one promoted meanwhile is never deleted, since
        only enabled users can be promoted."""
        await users().delete_one({"_id": oid(user_id), "disabled": True})

    async def list(self, query: UserQuery, *, skip: int, limit: int) -> tuple[list[User], int]:
        where: dict[str, Any] = {}
        if query.prefix:
            low, high = prefix_range(query.prefix)
            where["username"] = {"$gte": low, "$lt": high}
        if query.role is not None:
            where["role"] = query.role.value
        if query.disabled is not None:
            where["disabled"] = query.disabled
        cursor = users().find(where, _FIELDS).sort(_SORTS[query.sort]).skip(skip).limit(limit)
        found = [to_user(doc) async for doc in cursor]
        return found, await users().count_documents(where)
