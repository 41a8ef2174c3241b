"""Credit accounts, their ledger and the holds collection.

Every change of money is ONE conditional update of the user's `credit_accounts` document (see
documents/credit_accounts.py): its filter is the decision (enough available; the hold still
counted; the code not yet credited here), and the same update writes the ledger entry ahead
into the account's journal. `write_ledger` then copies the entry into `ledger` (keyed, so a
second copy is a no-op) and `clear_journal` pulls it.
"""

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from beanie import PydanticObjectId
from bson.errors import InvalidId
from pymongo import DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from simplechat.billing.types import Balance, EntryKind, Hold, LedgerEntry
from simplechat.documents.credit_accounts import CreditAccountDoc
from simplechat.documents.holds import HoldDoc
from simplechat.documents.ledger import LedgerDoc
from simplechat.documents.users import UserDoc
from simplechat.kit.pagination import Paged, PageParams

_BALANCE = {"available": 1, "on_hold": 1}
_ID = {"_id": 1}


@dataclass(frozen=True, slots=True)
class Account:
    balance: Balance
    journal: list[str]


@dataclass(frozen=True, slots=True)
class StaleHold:
    id: str
    user_id: str
    amount: int


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def journal_line(entry: LedgerEntry) -> str:
    """An entry as the journal keeps it: canonical JSON, so the same entry is the same string."""
    fields = {
        "k": entry.key,
        "u": entry.user_id,
        "kind": entry.kind.value,
        "d": entry.delta,
        "ms": _ms(entry.created_at),
        "ref": entry.reference,
        "note": entry.note,
        "by": entry.by,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def entry_of(line: str) -> LedgerEntry:
    fields = json.loads(line)
    return LedgerEntry(
        key=fields["k"],
        user_id=fields["u"],
        kind=EntryKind(fields["kind"]),
        delta=int(fields["d"]),
        created_at=datetime.fromtimestamp(fields["ms"] / 1000, UTC),
        reference=fields.get("ref"),
        note=fields.get("note"),
        by=fields.get("by"),
    )


def _balance(user_id: str, doc: dict[str, Any]) -> Balance:
    return Balance(user_id, int(doc.get("available", 0)), int(doc.get("on_hold", 0)))


def _user_range(user_id: str) -> dict[str, Any]:
    return {"user_key": {"$gte": f"{user_id}:", "$lt": f"{user_id};"}}


def _ledger_entry(doc: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        key=doc["_id"],
        user_id=doc["user_id"],
        kind=EntryKind(doc["kind"]),
        delta=int(doc["delta"]),
        created_at=datetime.fromtimestamp(doc["at_ms"] / 1000, UTC),
        reference=doc.get("reference"),
        note=doc.get("note"),
        by=doc.get("by"),
    )


class CreditRepository:
    # --- accounts ---
    async def find(self, user_id: str) -> Account | None:
        doc = await CreditAccountDoc.get_pymongo_collection().find_one(
            {"_id": user_id}, projection={**_BALANCE, "journal": 1}
        )
        if doc is None:
            return None
        return Account(_balance(user_id, doc), [str(line) for line in doc.get("journal", [])])

    async def create(self, user_id: str, *, available: int, journal: list[str]) -> None:
        """Open the account with its starting credits (their entry in the journal) in one
        insert; a second opening (a parallel first visit) changes nothing."""
        doc = CreditAccountDoc.model_construct(
            id=user_id, available=available, journal=journal, journal_n=len(journal)
        ).model_dump(by_alias=True, exclude={"revision_id"})
        with contextlib.suppress(DuplicateKeyError):
            await CreditAccountDoc.get_pymongo_collection().insert_one(doc)

    async def apply(
        self, entry: LedgerEntry, *, min_available: int | None = None, code: str | None = None
    ) -> Balance | None:
        """Add `entry.delta` to the balance, writing the entry ahead into the journal; None
        when the account is missing, holds less than `min_available`, or has had `code`
        credited already."""
        query: dict[str, Any] = {"_id": entry.user_id}
        push: dict[str, Any] = {"journal": journal_line(entry)}
        if min_available is not None:
            query["available"] = {"$gte": min_available}
        if code is not None:
            query["redeemed"] = {"$nin": [code]}  # $ne on an array is wrong on the embedded server
            push["redeemed"] = code
        doc = await CreditAccountDoc.get_pymongo_collection().find_one_and_update(
            query,
            {"$inc": {"available": entry.delta, "journal_n": 1}, "$push": push},
            projection=_BALANCE,
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _balance(entry.user_id, doc)

    async def reserve(self, user_id: str, hold_id: str, amount: int) -> Balance | None:
        """Hold `amount` if that much is available: the decision and the record in one update."""
        doc = await CreditAccountDoc.get_pymongo_collection().find_one_and_update(
            {"_id": user_id, "available": {"$gte": amount}, "holds": {"$nin": [hold_id]}},
            {"$inc": {"available": -amount, "on_hold": amount}, "$push": {"holds": hold_id}},
            projection=_BALANCE,
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _balance(user_id, doc)

    async def close_hold(
        self, user_id: str, hold_id: str, *, amount: int, charged: int, entry: LedgerEntry | None
    ) -> Balance | None:
        """Settle (charge `charged`, release the rest) or release (`charged` 0) a hold, once:
        None when it is no longer counted (settled or released before)."""
        update: dict[str, Any] = {
            "$inc": {"on_hold": -amount, "available": amount - charged},
            "$pull": {"holds": hold_id},
        }
        if entry is not None:
            update["$inc"]["journal_n"] = 1
            update["$push"] = {"journal": journal_line(entry)}
        doc = await CreditAccountDoc.get_pymongo_collection().find_one_and_update(
            {"_id": user_id, "holds": hold_id},
            update,
            projection=_BALANCE,
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _balance(user_id, doc)

    # --- the journal and the ledger ---
    async def write_ledger(self, entry: LedgerEntry) -> None:
        ms = _ms(entry.created_at)
        doc = {
            "_id": entry.key,
            "user_id": entry.user_id,
            "kind": entry.kind.value,
            "delta": entry.delta,
            "reference": entry.reference,
            "note": entry.note,
            "by": entry.by,
            "at_ms": ms,
            "created_at": entry.created_at,
            "user_key": f"{entry.user_id}:{ms:013d}:{entry.key}",
        }
        with contextlib.suppress(DuplicateKeyError):  # written before: a retry, or the sweeper
            await LedgerDoc.get_pymongo_collection().insert_one(doc)

    async def clear_journal(self, user_id: str, line: str) -> None:
        await CreditAccountDoc.get_pymongo_collection().update_one(
            {"_id": user_id, "journal": line},
            {"$pull": {"journal": line}, "$inc": {"journal_n": -1}},
        )

    async def with_journal(self, limit: int) -> list[tuple[str, list[str]]]:
        """Accounts whose journal holds entries not yet cleared."""
        cursor = CreditAccountDoc.get_pymongo_collection().find(
            {"journal_n": {"$gt": 0}}, projection={"journal": 1}, limit=limit
        )
        return [(str(doc["_id"]), [str(x) for x in doc.get("journal", [])]) async for doc in cursor]

    async def ledger_page(self, user_id: str, params: PageParams) -> Paged[LedgerEntry]:
        collection = LedgerDoc.get_pymongo_collection()
        cursor = (
            collection.find(_user_range(user_id))
            .sort("user_key", DESCENDING)
            .skip(params.skip)
            .limit(params.limit)
        )
        docs, total = await asyncio.gather(
            cursor.to_list(), collection.count_documents(_user_range(user_id))
        )
        return Paged([_ledger_entry(d) for d in docs], total, params)

    # --- redeem attempts: a fixed window per account ---
    async def claim_attempt(self, user_id: str, *, window: int, limit: int) -> bool:
        """Count one attempt in the window starting at `window` (epoch ms) if fewer than
        `limit` were counted: one conditional update each way (same window, or a new one)."""
        collection = CreditAccountDoc.get_pymongo_collection()
        same = {"_id": user_id, "att_w": window, "att_n": {"$lt": limit}}
        if await collection.find_one_and_update(same, {"$inc": {"att_n": 1}}, projection=_ID):
            return True
        rolled = await collection.find_one_and_update(
            {"_id": user_id, "att_w": {"$lt": window}},
            {"$set": {"att_w": window, "att_n": 1}},
            projection=_ID,
        )
        if rolled is not None:
            return True
        # a parallel attempt may have started the window first
        again = await collection.find_one_and_update(same, {"$inc": {"att_n": 1}}, projection=_ID)
        return again is not None

    async def give_back_attempt(self, user_id: str, *, window: int) -> None:
        await CreditAccountDoc.get_pymongo_collection().update_one(
            {"_id": user_id, "att_w": window, "att_n": {"$gt": 0}}, {"$inc": {"att_n": -1}}
        )

    async def user_exists(self, user_id: str) -> bool:
        try:
            oid = PydanticObjectId(user_id)
        except (InvalidId, TypeError):
            return False
        found = await UserDoc.get_pymongo_collection().find_one({"_id": oid}, projection=_ID)
        return found is not None

    # --- holds ---
    async def insert_hold(self, hold: Hold) -> None:
        await HoldDoc.get_pymongo_collection().insert_one(
            {
                "_id": hold.id,
                "user_id": hold.user_id,
                "model": hold.model,
                "amount": hold.amount,
                "reference": hold.reference,
                "created_ms": hold.created_ms,
            }
        )

    async def delete_hold(self, hold_id: str) -> None:
        await HoldDoc.get_pymongo_collection().delete_one({"_id": hold_id})

    async def stale_holds(self, *, before_ms: int, limit: int) -> list[StaleHold]:
        cursor = HoldDoc.get_pymongo_collection().find(
            {"created_ms": {"$lt": before_ms}}, limit=limit
        )
        return [StaleHold(d["_id"], d["user_id"], int(d["amount"])) async for d in cursor]

    async def delete_owner(self, user_id: str) -> None:
        """A deleted user's credit account, ledger and holds. Holds have no index on their
        user: an account deletion is rare, and the collection holds only turns in flight."""
        await asyncio.gather(
            CreditAccountDoc.get_pymongo_collection().delete_one({"_id": user_id}),
            LedgerDoc.get_pymongo_collection().delete_many(_user_range(user_id)),
            HoldDoc.get_pymongo_collection().delete_many({"user_id": user_id}),
        )
