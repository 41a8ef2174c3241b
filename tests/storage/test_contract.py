"""The storage contract: every MongoDB operation simplechat relies on, pinned against the test
server (the embedded MongoDB-wire server by default, real MongoDB when MONGODB_URI is set).

If a future embedded-server release (or a MongoDB upgrade) changes one of these, this file fails
first, with the operation named. DEVELOPERS.md lists the operations known to be wrong on the
embedded server, which simplechat does not use.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

Db = AsyncDatabase[dict[str, Any]]


@pytest.fixture
async def db(mongo_uri: str, database_name: str) -> AsyncIterator[Db]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        yield client[database_name]
    finally:
        await client.close()


async def test_unique_index_rejects_duplicates(db: Db) -> None:
    await db.users.create_index("username", unique=True)
    await db.users.insert_one({"username": "eric"})
    with pytest.raises(DuplicateKeyError):
        await db.users.insert_one({"username": "eric"})


async def test_conditional_inc_admits_exactly_n_in_parallel(db: Db) -> None:
    """Daily counter: one conditional find_one_and_update with $inc decides and records."""
    await db.counters.insert_one({"_id": "u:2026-11-21", "admitted": 0})

    async def take() -> dict[str, Any] | None:
        return await db.counters.find_one_and_update(
            {"_id": "u:2026-11-21", "admitted": {"$lt": 5}},
            {"$inc": {"admitted": 1}},
            return_document=ReturnDocument.AFTER,
        )

    results = await asyncio.gather(*(take() for _ in range(30)))
    assert sum(r is not None for r in results) == 5
    assert sorted(r["admitted"] for r in results if r) == [1, 2, 3, 4, 5]


async def test_upsert_with_failing_condition_on_existing_doc_raises_duplicate(db: Db) -> None:
    """The first message of a day upserts the counter; a full counter makes the upsert collide."""

    async def take() -> dict[str, Any] | None:
        try:
            return await db.counters.find_one_and_update(
                {"_id": "u:day", "admitted": {"$lt": 2}},
                {"$inc": {"admitted": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return None

    results = await asyncio.gather(*(take() for _ in range(10)))
    assert sum(r is not None for r in results) == 2
    assert (await db.counters.find_one({"_id": "u:day"}) or {})["admitted"] == 2


async def test_inc_negative_gives_back(db: Db) -> None:
    await db.counters.insert_one({"_id": "k", "admitted": 2})
    await db.counters.update_one({"_id": "k", "admitted": {"$gt": 0}}, {"$inc": {"admitted": -1}})
    assert (await db.counters.find_one({"_id": "k"}) or {})["admitted"] == 1


async def test_claiming_integer_time_slots_is_exclusive(db: Db) -> None:
    """Burst slots: claim any slot whose integer `until_ms` has passed, one winner per slot."""
    await db.slots.insert_many([{"user": "u", "slot": k, "until_ms": 0} for k in range(3)])
    now_ms = 1_800_000_000_000

    async def claim() -> dict[str, Any] | None:
        return await db.slots.find_one_and_update(
            {"user": "u", "slot": {"$lt": 3}, "until_ms": {"$lte": now_ms}},
            {"$set": {"until_ms": now_ms + 30_000}},
        )

    results = await asyncio.gather(*(claim() for _ in range(20)))
    claimed = [r for r in results if r]
    assert len(claimed) == 3
    assert sorted(r["slot"] for r in claimed) == [0, 1, 2]
    earliest = await db.slots.find({"user": "u"}).sort("until_ms", 1).limit(1).to_list()
    assert earliest[0]["until_ms"] == now_ms + 30_000


async def test_conditional_set_restores_only_own_claim(db: Db) -> None:
    await db.slots.insert_one({"user": "u", "slot": 0, "until_ms": 500})
    result = await db.slots.update_one(
        {"user": "u", "slot": 0, "until_ms": 400}, {"$set": {"until_ms": 0}}
    )
    assert result.modified_count == 0
    result = await db.slots.update_one(
        {"user": "u", "slot": 0, "until_ms": 500}, {"$set": {"until_ms": 0}}
    )
    assert result.modified_count == 1


async def test_inserted_dates_round_trip_tz_aware_and_range_query(db: Db) -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    await db.messages.insert_many(
        [{"owner": "u", "at": now - timedelta(minutes=i), "n": i} for i in range(10)]
    )
    first = await db.messages.find_one({"owner": "u", "n": 0})
    assert first is not None
    assert first["at"] == now
    assert first["at"].tzinfo is not None
    count = await db.messages.count_documents(
        {"owner": "u", "at": {"$gte": now - timedelta(minutes=4)}}
    )
    assert count == 5


async def test_sort_descending_with_limit(db: Db) -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    await db.messages.insert_many(
        [{"owner": "u", "at": now + timedelta(seconds=i), "n": i} for i in range(10)]
    )
    await db.messages.insert_one({"owner": "other", "at": now + timedelta(hours=1), "n": 99})
    newest = (
        await db.messages.find({"owner": "u"})
        .sort([("at", DESCENDING), ("_id", DESCENDING)])
        .limit(3)
        .to_list()
    )
    assert [d["n"] for d in newest] == [9, 8, 7]


async def test_group_with_sum(db: Db) -> None:
    await db.messages.insert_many(
        [{"owner": "u", "kind": k, "tokens": 10} for k in ("plain", "plain", "advanced")]
    )
    rows = await (
        await db.messages.aggregate(
            [
                {"$match": {"owner": "u"}},
                {"$group": {"_id": "$kind", "count": {"$sum": 1}, "tokens": {"$sum": "$tokens"}}},
            ]
        )
    ).to_list()
    assert {r["_id"]: (r["count"], r["tokens"]) for r in rows} == {
        "plain": (2, 20),
        "advanced": (1, 10),
    }


async def test_update_one_upsert_set_on_insert(db: Db) -> None:
    await db.things.update_one({"_id": "a"}, {"$setOnInsert": {"slot": 1}}, upsert=True)
    await db.things.update_one({"_id": "a"}, {"$setOnInsert": {"slot": 2}}, upsert=True)
    assert (await db.things.find_one({"_id": "a"}) or {})["slot"] == 1


async def test_insert_many_unordered_skips_duplicates(db: Db) -> None:
    await db.slots.create_index([("user", 1), ("slot", 1)], unique=True)
    await db.slots.insert_one({"user": "u", "slot": 0, "until_ms": 0})
    with pytest.raises(BulkWriteError):
        await db.slots.insert_many(
            [{"user": "u", "slot": k, "until_ms": 0} for k in range(3)], ordered=False
        )
    assert await db.slots.count_documents({"user": "u"}) == 3


async def test_update_status_by_id(db: Db) -> None:
    result = await db.messages.insert_one({"status": "pending"})
    await db.messages.update_one(
        {"_id": result.inserted_id}, {"$set": {"status": "answered", "usage": {"p": 1}}}
    )
    doc = await db.messages.find_one({"_id": result.inserted_id})
    assert doc is not None
    assert doc["status"] == "answered"
    assert doc["usage"] == {"p": 1}


async def test_references_are_matched_as_hex_strings(db: Db) -> None:
    """Owner and reply references are stored as hex strings and matched by equality.

    (The embedded server cannot match ObjectId-valued fields other than `_id` by equality,
    which is why simplechat never stores references as ObjectIds.)
    """
    await db.messages.insert_many(
        [{"owner_id": "6b01b59ab1945f3903016ee2", "n": i} for i in range(3)]
    )
    await db.messages.insert_one({"owner_id": "6b01b59ab1945f3903016ee3", "n": 9})
    assert await db.messages.count_documents({"owner_id": "6b01b59ab1945f3903016ee2"}) == 3
    found = await db.messages.find({"owner_id": "6b01b59ab1945f3903016ee2"}).to_list()
    assert len(found) == 3


async def test_object_id_primary_key_lookup(db: Db) -> None:
    result = await db.users.insert_one({"username": "eric"})
    assert (await db.users.find_one({"_id": result.inserted_id}) or {})["username"] == "eric"


async def test_in_filter_on_strings(db: Db) -> None:
    await db.messages.insert_many(
        [{"owner_id": "u", "status": s} for s in ("pending", "answered", "complete")]
    )
    docs = await db.messages.find(
        {"owner_id": "u", "status": {"$in": ["answered", "complete"]}}
    ).to_list()
    assert len(docs) == 2
