"""Personal API keys (`api_keys`) and users' own provider keys (`provider_keys`).

A key's daily count is decided and recorded by one conditional `find_one_and_update` on its
document: the filter holds every condition (enabled, unexpired, the cap the caller saw, today's
count below it), so parallel requests on several workers can never count past the cap.
"""

from datetime import UTC, datetime
from typing import Any

from beanie import PydanticObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, ReturnDocument

from simplechat.documents.api_keys import ApiKeyDoc
from simplechat.documents.provider_keys import ProviderKeyDoc
from simplechat.keys.rules import NO_CAP, NO_EXPIRY_MS
from simplechat.keys.types import ApiKey, KeyCaps, KeyGrant, Provider


def _oid(key_id: str) -> PydanticObjectId | None:
    try:
        return PydanticObjectId(key_id)
    except (InvalidId, TypeError):
        return None


def _from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _key(doc: dict[str, Any], today: int) -> ApiKey:
    models = doc.get("models")
    created = doc["created_at"]
    return ApiKey(
        id=str(doc["_id"]),
        user_id=str(doc["user_id"]),
        name=str(doc["name"]),
        prefix=str(doc["prefix"]),
        enabled=bool(doc["enabled"]),
        locked=bool(doc.get("locked")),  # the embedded server gives a $set True back as 1
        caps=KeyCaps(
            expires_at=None if doc["expires_ms"] >= NO_EXPIRY_MS else _from_ms(doc["expires_ms"]),
            models=None if models is None else tuple(models),
            daily_limit=None if doc["daily_cap"] >= NO_CAP else int(doc["daily_cap"]),
            max_credits=doc.get("max_credits"),
        ),
        created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
        last_used_at=_from_ms(doc.get("last_used_ms")),
        used_today=int(doc.get("day_count", 0)) if doc.get("day") == today else 0,
        uses=int(doc.get("uses", 0)),
    )


def _grant(doc: dict[str, Any]) -> KeyGrant:
    models = doc.get("models")
    return KeyGrant(
        key_id=str(doc["_id"]),
        user_id=str(doc["user_id"]),
        models=None if models is None else tuple(models),
        daily_cap=int(doc["daily_cap"]),
        max_credits=None if doc.get("max_credits") is None else int(doc["max_credits"]),
    )


class ApiKeyRepository:
    async def add(self, fields: dict[str, Any]) -> str:
        result = await ApiKeyDoc.get_pymongo_collection().insert_one(
            {
                **fields,
                "day": 0,
                "day_count": 0,
                "uses": 0,
                "last_used_ms": None,
                "created_at": datetime.now(UTC),
            }
        )
        return str(result.inserted_id)

    async def get(self, key_id: str, *, today: int, user_id: str | None = None) -> ApiKey | None:
        oid = _oid(key_id)
        if oid is None:
            return None
        query: dict[str, Any] = {"_id": oid}
        if user_id is not None:
            query["user_id"] = user_id
        doc = await ApiKeyDoc.get_pymongo_collection().find_one(query)
        return None if doc is None else _key(doc, today)

    async def of_user(self, user_id: str, *, today: int) -> list[ApiKey]:
        cursor = (
            ApiKeyDoc.get_pymongo_collection().find({"user_id": user_id}).sort("_id", ASCENDING)
        )
        return [_key(doc, today) async for doc in cursor]

    async def page(
        self, *, user_id: str | None, skip: int, limit: int, today: int
    ) -> tuple[list[ApiKey], int]:
        collection = ApiKeyDoc.get_pymongo_collection()
        query = {} if user_id is None else {"user_id": user_id}
        cursor = collection.find(query).sort("_id", DESCENDING).skip(skip).limit(limit)
        keys = [_key(doc, today) async for doc in cursor]
        return keys, await collection.count_documents(query)

    async def update(
        self,
        key_id: str,
        changes: dict[str, Any],
        *,
        user_id: str | None,
        today: int,
        unlocked: bool = False,
    ) -> tuple[ApiKey, int | None] | None:
        """The key as changed, and its `max_credits` before (one update: parallel changes
        each see the cap the one before them left); `unlocked`: only if no admin disabled it
        (None otherwise)."""
        oid = _oid(key_id)
        if oid is None:
            return None
        query: dict[str, Any] = {"_id": oid}
        if user_id is not None:
            query["user_id"] = user_id
        if unlocked:
            query["locked"] = {"$nin": [True]}  # $ne misses documents without the field
        before = await ApiKeyDoc.get_pymongo_collection().find_one_and_update(
            query,
            {"$set": changes} if changes else {"$inc": {"uses": 0}},
            return_document=ReturnDocument.BEFORE,
        )
        if before is None:
            return None
        return _key({**before, **changes}, today), before.get("max_credits")

    async def ids_of_user(self, user_id: str) -> list[str]:
        cursor = ApiKeyDoc.get_pymongo_collection().find({"user_id": user_id}, projection=["_id"])
        return [str(doc["_id"]) async for doc in cursor]

    async def delete(self, key_id: str, *, user_id: str) -> bool:
        oid = _oid(key_id)
        if oid is None:
            return False
        result = await ApiKeyDoc.get_pymongo_collection().delete_one(
            {"_id": oid, "user_id": user_id}
        )
        return result.deleted_count == 1

    async def delete_for_user(self, user_id: str) -> None:
        await ApiKeyDoc.get_pymongo_collection().delete_many({"user_id": user_id})

    async def authenticate(self, key_hash: str, *, now_ms: int) -> KeyGrant | None:
        """The key with this hash if it is enabled and unexpired (its last use set to now)."""
        doc = await ApiKeyDoc.get_pymongo_collection().find_one_and_update(
            {"key_hash": key_hash, "enabled": True, "expires_ms": {"$gt": now_ms}},
            {"$set": {"last_used_ms": now_ms}},
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _grant(doc)

    async def count_use(self, grant: KeyGrant, *, day: int, now_ms: int) -> bool:
        """Count one request on `day` if the key is still enabled, unexpired, has the cap the
        grant saw and today's count is below it: one conditional update for the same day,
        or (the first request of a day) one that starts the day's count at 1."""
        collection = ApiKeyDoc.get_pymongo_collection()
        usable: dict[str, Any] = {
            "_id": _oid(grant.key_id),
            "enabled": True,
            "expires_ms": {"$gt": now_ms},
            "daily_cap": grant.daily_cap,
        }
        same_day_filter = {**usable, "day": day, "day_count": {"$lt": grant.daily_cap}}
        count = {"$inc": {"day_count": 1, "uses": 1}, "$set": {"last_used_ms": now_ms}}
        if await collection.find_one_and_update(same_day_filter, count) is not None:
            return True
        if grant.daily_cap < 1:
            return False
        new_day = await collection.find_one_and_update(
            {**usable, "day": {"$lt": day}},  # days only grow: an older one is over
            {"$set": {"day": day, "day_count": 1, "last_used_ms": now_ms}, "$inc": {"uses": 1}},
        )
        if new_day is not None:
            return True
        # A parallel request started the day between the two updates (a new key's first
        # burst, or the first requests after midnight): count on the day it started.
        return await collection.find_one_and_update(same_day_filter, count) is not None

    async def give_back(self, key_id: str, *, day: int) -> None:
        await ApiKeyDoc.get_pymongo_collection().update_one(
            {"_id": _oid(key_id), "day": day, "day_count": {"$gt": 0}},
            {"$inc": {"day_count": -1, "uses": -1}},
        )

    async def read_grant(self, key_id: str, *, now_ms: int) -> KeyGrant | None:
        """The key as it is now, if still usable (to re-plan after a lost or refused count)."""
        doc = await ApiKeyDoc.get_pymongo_collection().find_one(
            {"_id": _oid(key_id), "enabled": True, "expires_ms": {"$gt": now_ms}}
        )
        return None if doc is None else _grant(doc)


class ProviderKeyRepository:
    async def put(
        self, *, user_id: str, provider: Provider, secret: str, last4: str, now_ms: int
    ) -> None:
        await ProviderKeyDoc.get_pymongo_collection().update_one(
            {"slot": f"{user_id}:{provider.value}"},
            {
                "$set": {
                    "user_id": user_id,
                    "provider": provider.value,
                    "secret": secret,
                    "last4": last4,
                    "updated_ms": now_ms,
                }
            },
            upsert=True,
        )

    async def of_user(self, user_id: str) -> list[tuple[Provider, str, int]]:
        cursor = ProviderKeyDoc.get_pymongo_collection().find({"user_id": user_id})
        return [
            (Provider(doc["provider"]), str(doc["last4"]), int(doc["updated_ms"]))
            async for doc in cursor
        ]

    async def secret(self, user_id: str, provider: Provider) -> str | None:
        doc = await ProviderKeyDoc.get_pymongo_collection().find_one(
            {"slot": f"{user_id}:{provider.value}"}
        )
        return None if doc is None else str(doc["secret"])

    async def delete(self, user_id: str, provider: Provider) -> bool:
        result = await ProviderKeyDoc.get_pymongo_collection().delete_one(
            {"slot": f"{user_id}:{provider.value}"}
        )
        return result.deleted_count == 1

    async def delete_for_user(self, user_id: str) -> None:
        await ProviderKeyDoc.get_pymongo_collection().delete_many({"user_id": user_id})
