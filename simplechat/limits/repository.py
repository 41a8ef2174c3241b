"""LimitRepository: the per-user limit counters, kept in the user's own document.

    users.lim = {"day": "2026-11-21", "count": 5, "s0": <epoch ms>, "s1": ..., "s2": ...,
                 "daily": -1, "burst": -1}

A message is admitted by one conditional `find_one_and_update` on that document: its filter
holds the limits (the chosen slot is at least one window old; today's count is below the
limit, or the stored day is the one the caller saw; the user's overrides are the ones the
plan used) and the user's existence (enabled, and at the access token's epoch: a revoked
token is refused by the same update), so deciding and recording are one atomic step on every
server, and the same round trip authenticates the caller. Slot times are integer epoch
milliseconds (the embedded server stores dates written by `$set` as strings). The same update
records when the user was last active (`users.active_ms`).
"""

from dataclasses import dataclass
from enum import Enum
from typing import Any

from beanie import PydanticObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument

from simplechat.accounts.types import User
from simplechat.documents.limit_refusals import LimitRefusalDoc
from simplechat.documents.users import UserDoc
from simplechat.limits.rules import NO_OVERRIDE, Claim, LimitState

_USER_FIELDS = {"username": 1, "role": 1, "created_at": 1, "lim": 1}
MAX_FIELDS_PER_UPDATE = 40


class Refused(Enum):
    """Why `read` found no state: the user is gone or disabled, or the token was revoked."""

    GONE = "gone"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Admitted:
    user: User
    state: LimitState
    claimed_ms: int
    previous_ms: int


def _oid(user_id: str) -> PydanticObjectId | None:
    try:
        return PydanticObjectId(user_id)
    except (InvalidId, TypeError):
        return None


def _state(doc: dict[str, Any], slots: int) -> LimitState:
    lim = doc.get("lim") or {}
    return LimitState(
        day=str(lim.get("day", "")),
        count=int(lim.get("count", 0)),
        slots=tuple(int(lim.get(f"s{k}", 0)) for k in range(slots)),
        daily_override=int(lim.get("daily", NO_OVERRIDE)),
        burst_override=int(lim.get("burst", NO_OVERRIDE)),
    )


def _user(doc: dict[str, Any]) -> User:
    return User(
        id=str(doc["_id"]), username=doc["username"], role=doc["role"], created_at=doc["created_at"]
    )


class LimitRepository:
    async def read(
        self, *, user_id: str, slots: int, epoch: int | None = None
    ) -> LimitState | Refused:
        """The user's counters (or why not: GONE when the user does not exist or is disabled,
        REVOKED when it is no longer at the token epoch `epoch`), with at least `slots` burst
        slots, or as many as the user's own burst limit needs. Missing fields (a new user, a
        raised burst limit) are created as free, overrides as none, and the token epoch as 0
        (older documents lack it: the claim's filter names it)."""
        oid = _oid(user_id)
        if oid is None:
            return Refused.GONE
        fields: list[tuple[str, Any]] = [("token_epoch", 0), ("lim.day", ""), ("lim.count", 0)]
        fields += [("lim.daily", NO_OVERRIDE), ("lim.burst", NO_OVERRIDE)]
        fields += [(f"lim.s{k}", 0) for k in range(slots)]
        doc = await self._create_missing(oid, fields)
        if doc is None:
            return Refused.GONE
        if epoch is not None and int(doc.get("token_epoch", 0)) != epoch:
            return Refused.REVOKED
        wanted = int((doc.get("lim") or {}).get("burst", NO_OVERRIDE))
        if wanted > slots:
            doc = await self._create_missing(oid, [(f"lim.s{k}", 0) for k in range(slots, wanted)])
            if doc is None:
                return Refused.GONE
        return _state(doc, max(slots, wanted))

    async def peek(self, *, user_id: str, slots: int) -> LimitState | None:
        """The user's counters as they are, disabled or not, changing nothing (for admins)."""
        doc = await UserDoc.get_pymongo_collection().find_one({"_id": _oid(user_id)}, {"lim": 1})
        return _state(doc, slots) if doc else None

    async def _create_missing(
        self, oid: PydanticObjectId, fields: list[tuple[str, Any]]
    ) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = None
        # The embedded server silently ignores an update with too many fields (over ~60):
        # create them in batches (only a raised burst limit ever needs more than one).
        for start in range(0, len(fields), MAX_FIELDS_PER_UPDATE):
            doc = await UserDoc.get_pymongo_collection().find_one_and_update(
                {"_id": oid, "disabled": False},
                {"$max": dict(fields[start : start + MAX_FIELDS_PER_UPDATE])},
                projection={"lim": 1, "token_epoch": 1},
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                return None
        return doc

    async def claim(
        self,
        *,
        user_id: str,
        seen: LimitState,
        claim: Claim,
        daily_limit: int,
        now_ms: int,
        window_ms: int,
        epoch: int | None = None,
    ) -> Admitted | None:
        """Apply `claim` if the stored state still allows it, and the user is still at the
        access token's `epoch` (None: a personal key's call, not compared); None when not."""
        oid = _oid(user_id)
        if oid is None:
            return None
        slot = f"lim.s{claim.slot}"
        query: dict[str, Any] = {
            "_id": oid,
            "disabled": False,
            slot: {"$lte": now_ms - window_ms},
            # the limits the plan used: an admin changing them meanwhile makes this miss
            "lim.daily": seen.daily_override,
            "lim.burst": seen.burst_override,
        }
        if epoch is not None:  # `read` created it on older documents
            query["token_epoch"] = epoch
        update: dict[str, Any] = {"$set": {slot: now_ms, "active_ms": now_ms}}
        if claim.same_day:
            query.update({"lim.day": claim.day, "lim.count": {"$lt": daily_limit}})
            update["$inc"] = {"lim.count": 1}
        else:
            query["lim.day"] = claim.previous_day
            update["$set"].update({"lim.day": claim.day, "lim.count": 1})
        before = await UserDoc.get_pymongo_collection().find_one_and_update(
            query, update, projection=_USER_FIELDS, return_document=ReturnDocument.BEFORE
        )
        if before is None:
            return None
        previous = _state(before, len(seen.slots))
        after = LimitState(
            day=claim.day,
            count=(previous.count + 1) if claim.same_day else 1,
            slots=tuple(now_ms if k == claim.slot else t for k, t in enumerate(previous.slots)),
            daily_override=previous.daily_override,
            burst_override=previous.burst_override,
        )
        return Admitted(_user(before), after, now_ms, previous.slots[claim.slot])

    async def give_back(
        self, *, user_id: str, slot: int, day: str, claimed_ms: int, previous_ms: int
    ) -> None:
        """Undo an admission: free its slot (unless claimed again since) and uncount it."""
        collection = UserDoc.get_pymongo_collection()
        oid = PydanticObjectId(user_id)
        slot_field = f"lim.s{slot}"
        await collection.update_one(
            {"_id": oid, slot_field: claimed_ms}, {"$set": {slot_field: previous_ms}}
        )
        await collection.update_one(
            {"_id": oid, "lim.day": day, "lim.count": {"$gt": 0}}, {"$inc": {"lim.count": -1}}
        )

    async def record_refusal(self, *, user_id: str, code: str) -> None:
        await LimitRefusalDoc(user_id=user_id, code=code).insert()

    async def set_override(self, *, user_id: str, limit: str, value: int) -> bool:
        """Store the user's own `limit` ("daily" or "burst"; NO_OVERRIDE clears it). False
        when the user does not exist."""
        result = await UserDoc.get_pymongo_collection().update_one(
            {"_id": _oid(user_id)}, {"$set": {f"lim.{limit}": value}}
        )
        return result.matched_count == 1

    async def delete_refusals(self, user_id: str) -> None:
        await LimitRefusalDoc.get_pymongo_collection().delete_many({"user_id": user_id})
