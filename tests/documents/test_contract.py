"""The storage contract: every MongoDB operation simplechat relies on, pinned against the test
server (the embedded MongoDB-wire server by default, real MongoDB when MONGODB_URI is set).

If a future embedded-server release (or a MongoDB upgrade) changes one of these, this file fails
first, with the operation named. DEVELOPERS.md lists the operations known to be wrong on the
embedded server, which simplechat does not use.
"""

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import Binary, ObjectId
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

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


async def test_max_creates_missing_nested_fields_without_lowering(db: Db) -> None:
    """Reading a user's limit state creates missing counters as 0 and never lowers one."""
    await db.users.insert_one(
        {"_id": "u", "disabled": False, "lim": {"day": "", "count": 0, "s0": 7}}
    )
    doc = await db.users.find_one_and_update(
        {"_id": "u", "disabled": False},
        {"$max": {"lim.day": "", "lim.count": 0, "lim.s0": 0, "lim.s1": 0, "lim.s2": 0}},
        return_document=ReturnDocument.AFTER,
    )
    assert doc is not None
    assert doc["lim"] == {"day": "", "count": 0, "s0": 7, "s1": 0, "s2": 0}
    missing = await db.users.find_one_and_update(
        {"_id": "nobody", "disabled": False}, {"$max": {"lim.count": 0}}
    )
    assert missing is None


def _claim_filter(slot: int, now_ms: int, daily: int) -> dict[str, Any]:
    return {
        "_id": "u",
        "disabled": False,
        f"lim.s{slot}": {"$lte": now_ms - 30_000},
        "lim.day": "2026-11-21",
        "lim.count": {"$lt": daily},
    }


async def test_conditional_claims_on_one_document_admit_exactly_the_limits(db: Db) -> None:
    """The limit claim: a free slot and today's count, checked and recorded in one update."""
    now_ms = 1_800_000_000_000
    await db.users.insert_one(
        {
            "_id": "u",
            "disabled": False,
            "lim": {"day": "2026-11-21", "count": 0, "s0": 0, "s1": 0, "s2": 0},
        }
    )

    async def claim(slot: int) -> dict[str, Any] | None:
        return await db.users.find_one_and_update(
            _claim_filter(slot, now_ms, daily=20),
            {"$set": {f"lim.s{slot}": now_ms}, "$inc": {"lim.count": 1}},
            projection={"lim": 1},
            return_document=ReturnDocument.BEFORE,
        )

    results = await asyncio.gather(*(claim(k % 3) for k in range(30)))
    won = [r for r in results if r is not None]
    assert len(won) == 3
    assert all(r["lim"]["count"] in (0, 1, 2) for r in won)  # BEFORE documents
    doc = await db.users.find_one({"_id": "u"})
    assert doc is not None
    assert doc["lim"]["count"] == 3


async def test_daily_condition_refuses_a_full_day(db: Db) -> None:
    await db.users.insert_one(
        {"_id": "u", "disabled": False, "lim": {"day": "2026-11-21", "count": 2, "s0": 0}}
    )
    refused = await db.users.find_one_and_update(
        _claim_filter(0, 1_800_000_000_000, daily=2), {"$inc": {"lim.count": 1}}
    )
    assert refused is None


async def test_new_day_claim_matches_the_day_it_saw(db: Db) -> None:
    await db.users.insert_one(
        {"_id": "u", "disabled": False, "lim": {"day": "2026-11-20", "count": 20}}
    )
    stale = await db.users.find_one_and_update(
        {"_id": "u", "lim.day": "2026-11-19"}, {"$set": {"lim.day": "2026-11-21", "lim.count": 1}}
    )
    assert stale is None
    rolled = await db.users.find_one_and_update(
        {"_id": "u", "lim.day": "2026-11-20"},
        {"$set": {"lim.day": "2026-11-21", "lim.count": 1}},
        return_document=ReturnDocument.AFTER,
    )
    assert rolled is not None
    assert rolled["lim"] == {"day": "2026-11-21", "count": 1}


async def test_give_back_restores_only_its_own_claim(db: Db) -> None:
    await db.users.insert_one({"_id": "u", "lim": {"day": "d", "count": 1, "s0": 500}})
    result = await db.users.update_one({"_id": "u", "lim.s0": 400}, {"$set": {"lim.s0": 0}})
    assert result.modified_count == 0
    result = await db.users.update_one({"_id": "u", "lim.s0": 500}, {"$set": {"lim.s0": 0}})
    assert result.modified_count == 1
    result = await db.users.update_one(
        {"_id": "u", "lim.day": "d", "lim.count": {"$gt": 0}}, {"$inc": {"lim.count": -1}}
    )
    assert result.modified_count == 1
    assert (await db.users.find_one({"_id": "u"}) or {})["lim"] == {"day": "d", "count": 0, "s0": 0}


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


async def test_history_is_a_descending_range_of_one_string_key(db: Db) -> None:
    """A user's newest messages: a range of `history_key` ("<owner>:<13-digit ms>:<id>"),
    sorted descending with a limit, read in batches."""
    await db.messages.create_index("history_key")
    for owner in ("a", "ab", "b"):
        await db.messages.insert_many(
            [{"history_key": f"{owner}:{1_800_000_000_000 + i:013d}:x", "n": i} for i in range(30)]
        )
    cursor = (
        db.messages.find({"history_key": {"$gte": "a:", "$lt": "a;"}})
        .sort("history_key", DESCENDING)
        .limit(12)
        .batch_size(5)
    )
    assert [doc["n"] async for doc in cursor] == list(range(29, 17, -1))


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


# --- conversations, their messages and presets ----------------------------------------------


async def test_a_conversations_head_and_tail_are_two_bounded_ranges(db: Db) -> None:
    """One conversation's visible messages by `conversation_key` ("<conversation>:<ms>:<id>"):
    the newest descending with a limit, the first ascending with a limit, both within the
    conversation and before a key."""
    await db.messages.create_index("conversation_key")
    for conversation in ("c", "cd", "d"):
        await db.messages.insert_many(
            [
                {"conversation_key": f"{conversation}:{i:013d}:x", "visible": i != 5, "n": i}
                for i in range(30)
            ]
        )

    def read(before: str, direction: int, limit: int) -> Any:
        query = {"conversation_key": {"$gte": "c:", "$lt": before}, "visible": True}
        return db.messages.find(query).sort("conversation_key", direction).limit(limit)

    tail = [d["n"] async for d in read("c;", DESCENDING, 4).batch_size(5)]
    head = [d["n"] async for d in read(f"c:{26:013d}", ASCENDING, 7)]
    assert tail == [29, 28, 27, 26]
    assert head == [0, 1, 2, 3, 4, 6, 7]  # the hidden one (5) is skipped
    query = {"conversation_key": {"$gte": "c:", "$lt": "c;"}, "visible": True}
    assert await db.messages.count_documents(query) == 29
    page = await db.messages.find(query).sort("conversation_key", ASCENDING).skip(20).to_list()
    assert [d["n"] for d in page] == list(range(21, 30))


async def test_hidden_messages_stay_out_of_the_history_even_without_the_flag(db: Db) -> None:
    """/user/history: `visible: {$ne: False}` keeps messages stored before the flag existed."""
    await db.messages.insert_many(
        [{"history_key": f"u:{i:013d}:x", "n": i} for i in range(3)]
        + [{"history_key": f"u:{i:013d}:x", "n": i, "visible": i != 4} for i in range(3, 6)]
    )
    query = {"history_key": {"$gte": "u:", "$lt": "u;"}, "visible": {"$ne": False}}
    newest = await db.messages.find(query).sort("history_key", DESCENDING).limit(4).to_list()
    assert [d["n"] for d in newest] == [5, 3, 2, 1]


async def test_messages_are_hidden_by_ids_and_deleted_by_their_conversations_range(
    db: Db,
) -> None:
    ids = (
        await db.messages.insert_many(
            [{"conversation_key": f"c:{i:013d}:x", "visible": True} for i in range(4)]
        )
    ).inserted_ids
    await db.messages.insert_one({"conversation_key": "d:0000000000001:x", "visible": True})
    hidden = await db.messages.update_many({"_id": {"$in": ids[:2]}}, {"$set": {"visible": False}})
    assert hidden.modified_count == 2
    assert await db.messages.count_documents({"visible": False}) == 2
    deleted = await db.messages.delete_many({"conversation_key": {"$gte": "c:", "$lt": "c;"}})
    assert deleted.deleted_count == 4
    assert await db.messages.count_documents({}) == 1


async def test_a_conversation_is_found_by_its_id_and_its_owner_only(db: Db) -> None:
    oid = ObjectId()
    await db.conversations.insert_one({"_id": oid, "owner_id": "u", "title": "t"})
    assert await db.conversations.find_one({"_id": oid, "owner_id": "u"}) is not None
    assert await db.conversations.find_one({"_id": oid, "owner_id": "v"}) is None
    missed = await db.conversations.update_one({"_id": oid, "owner_id": "v"}, {"$inc": {"n": 1}})
    assert missed.matched_count == 0
    renamed = await db.conversations.find_one_and_update(
        {"_id": oid, "owner_id": "u"},
        {"$set": {"title": "new", "model": None, "temperature": 0.5}},
        return_document=ReturnDocument.AFTER,
    )
    assert renamed is not None
    assert (renamed["title"], renamed["model"], renamed["temperature"]) == ("new", None, 0.5)
    assert (await db.conversations.delete_one({"_id": oid, "owner_id": "v"})).deleted_count == 0
    assert (await db.conversations.delete_one({"_id": oid, "owner_id": "u"})).deleted_count == 1


async def test_an_exchange_is_one_upsert_of_inc_max_and_set_on_insert(db: Db) -> None:
    """The default conversation: created by its first exchange's update (a date set on insert
    stays a date), counted by $inc, its update time and listing key only ever moved forward."""
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def exchange(ms: int, title: str) -> dict[str, Any]:
        return {
            "$inc": {"message_count": 2, "input_tokens": 5},
            "$max": {"updated_ms": ms, "list_key": f"u:{ms:013d}:u"},
            "$setOnInsert": {"title": title, "created_at": now},
        }

    await db.conversations.update_one(
        {"_id": "u", "owner_id": "u"}, exchange(2000, "first"), upsert=True
    )
    await db.conversations.update_one(
        {"_id": "u", "owner_id": "u"}, exchange(1000, "later"), upsert=True
    )
    doc = await db.conversations.find_one({"_id": "u"})
    assert doc is not None
    assert (doc["message_count"], doc["input_tokens"]) == (4, 10)
    assert (doc["updated_ms"], doc["list_key"]) == (2000, f"u:{2000:013d}:u")
    assert (doc["title"], doc["created_at"]) == ("first", now)


async def test_parallel_first_exchanges_make_one_conversation(db: Db) -> None:
    async def exchange() -> None:
        try:
            await db.conversations.update_one(
                {"_id": "u", "owner_id": "u"}, {"$inc": {"message_count": 2}}, upsert=True
            )
        except DuplicateKeyError:  # what real MongoDB may answer the loser of the insert race
            await db.conversations.update_one({"_id": "u"}, {"$inc": {"message_count": 2}})

    await asyncio.gather(*(exchange() for _ in range(20)))
    assert await db.conversations.count_documents({}) == 1
    assert (await db.conversations.find_one({"_id": "u"}) or {})["message_count"] == 40


async def test_conversations_listed_newest_first_and_searched_by_escaped_title(db: Db) -> None:
    """A case-sensitive regex of escaped user text on the case-folded title (the "i" option
    would make the embedded server scan the collection, see DEVELOPERS.md)."""
    await db.conversations.create_index("list_key")
    titles = ["Lyon in May", "a.b (c)", "axb (c)", "héllo", "LYON", "Straße"]
    await db.conversations.insert_many(
        [
            {"list_key": f"u:{i:013d}:x", "title": t, "title_folded": t.casefold()}
            for i, t in enumerate(titles)
        ]
    )
    await db.conversations.insert_one(
        {"list_key": "v:0000000000009:x", "title": "Lyon", "title_folded": "lyon"}
    )

    async def search(text: str) -> list[str]:
        query = {
            "list_key": {"$gte": "u:", "$lt": "u;"},
            "title_folded": {"$regex": re.escape(text.casefold())},
        }
        found = await db.conversations.find(query).sort("list_key", DESCENDING).to_list()
        assert await db.conversations.count_documents(query) == len(found)
        return [d["title"] for d in found]

    assert await search("lyon") == ["LYON", "Lyon in May"]
    assert await search("a.b (c)") == ["a.b (c)"]
    assert await search("HÉ") == ["héllo"]
    assert await search("STRASSE") == ["Straße"]
    assert await search(".*") == []


async def test_presets_by_scope_sorted_paged_and_counted(db: Db) -> None:
    """Public presets, then one user's: each an equality on `scope` (a `$in` of the two would
    make the embedded server scan the collection), sorted, skipped and counted."""
    await db.presets.create_index("scope")
    scopes = ["public", "mine", "public", "other", "mine", "public"]
    await db.presets.insert_many(
        [
            {"scope": s, "created_at": datetime(2026, 1, 6 - i, tzinfo=UTC), "n": i}
            for i, s in enumerate(scopes)
        ]
    )
    order = [("created_at", ASCENDING), ("_id", ASCENDING)]
    public = await db.presets.find({"scope": "public"}).sort(order).skip(1).limit(5).to_list()
    assert [d["n"] for d in public] == [2, 0]
    assert await db.presets.count_documents({"scope": "public"}) == 3
    assert await db.presets.count_documents({"scope": "mine"}) == 2


async def test_built_in_presets_are_unique_by_a_partial_index(db: Db) -> None:
    """Only documents whose `builtin` is a string are in the index: any number of user presets
    store null; a second built-in of one name is refused, and seeding is an upsert on it."""
    await db.presets.create_index(
        "builtin", unique=True, partialFilterExpression={"builtin": {"$type": "string"}}
    )
    await db.presets.insert_many([{"builtin": None}, {"builtin": None}])
    await db.presets.insert_one({"builtin": "plain"})
    with pytest.raises(DuplicateKeyError):
        await db.presets.insert_one({"builtin": "plain"})
    now = datetime(2026, 11, 21, tzinfo=UTC)
    for name in ("Caring", "Caring companion"):
        await db.presets.update_one(
            {"builtin": "caring"},
            {"$set": {"name": name}, "$setOnInsert": {"scope": "public", "created_at": now}},
            upsert=True,
        )
    caring = await db.presets.find({"builtin": "caring"}).to_list()
    assert [(d["name"], d["scope"], d["created_at"]) for d in caring] == [
        ("Caring companion", "public", now)
    ]
    changed = await db.presets.find_one_and_update(
        {"_id": caring[0]["_id"]},
        {"$set": {"messages": [{"role": "system", "content": "x", "visible": False}]}},
        return_document=ReturnDocument.AFTER,
    )
    assert changed is not None
    assert changed["messages"] == [{"role": "system", "content": "x", "visible": False}]


async def test_conditional_upsert_creates_with_its_equality_fields_or_collides(db: Db) -> None:
    """The media quotas: one conditional upsert per request on "<user>:<day>" documents."""
    query = {"_id": "u:2026-11-21", "user_id": "u", "day": "2026-11-21", "pictures": {"$lte": 1}}
    update = {"$inc": {"speech_ms": 0, "pictures": 1}}
    created = await db.media_usage.find_one_and_update(
        query, update, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert created == {
        "_id": "u:2026-11-21",
        "user_id": "u",
        "day": "2026-11-21",
        "speech_ms": 0,
        "pictures": 1,
    }
    counted = await db.media_usage.find_one_and_update(
        query, update, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert counted is not None
    assert counted["pictures"] == 2
    # The condition fails on the existing document: MongoDB's upsert collides with it
    # (DuplicateKeyError); the embedded server's answers None. Neither writes anything.
    try:
        refused = await db.media_usage.find_one_and_update(query, update, upsert=True)
    except DuplicateKeyError:
        refused = None
    assert refused is None
    assert await db.media_usage.find_one_and_update(query, update) is None
    assert (await db.media_usage.find_one({"_id": "u:2026-11-21"}) or {})["pictures"] == 2


async def test_parallel_conditional_upserts_admit_exactly_the_limit(db: Db) -> None:
    query = {"_id": "u:d", "user_id": "u", "pictures": {"$lte": 2}}
    update = {"$inc": {"pictures": 1}}

    async def one() -> bool:
        try:
            after = await db.media_usage.find_one_and_update(
                query, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            after = await db.media_usage.find_one_and_update(
                query, update, return_document=ReturnDocument.AFTER
            )
        return after is not None

    admitted = await asyncio.gather(*(one() for _ in range(10)))
    assert sum(admitted) == 3
    assert (await db.media_usage.find_one({"_id": "u:d"}) or {})["pictures"] == 3


async def test_group_sum_of_nulls(db: Db) -> None:
    await db.media_results.insert_many(
        [
            {"user_id": "u", "kind": "speech", "duration_ms": 1500},
            {"user_id": "u", "kind": "picture", "duration_ms": None},
            {"user_id": "u", "kind": "speech", "duration_ms": 500},
        ]
    )
    rows = await (
        await db.media_results.aggregate(
            [
                {"$match": {"user_id": "u"}},
                {"$group": {"_id": "$kind", "n": {"$sum": 1}, "ms": {"$sum": "$duration_ms"}}},
            ]
        )
    ).to_list()
    # MongoDB sums only nulls to 0, the embedded server to null: read it as `or 0`.
    totals = {r["_id"]: (r["n"], r["ms"] or 0) for r in rows}
    assert totals == {"speech": (2, 2000), "picture": (1, 0)}


# --- accounts, admin and per-IP limits ---


async def test_partial_unique_index_only_among_documents_that_have_the_field(db: Db) -> None:
    """users.wechat_openid: unique among WeChat users; every other user has null."""
    await db.users.create_index(
        "wechat_openid", unique=True, partialFilterExpression={"wechat_openid": {"$type": "string"}}
    )
    await db.users.insert_many([{"n": 1, "wechat_openid": None}, {"n": 2, "wechat_openid": None}])
    await db.users.insert_one({"n": 3, "wechat_openid": "o-1"})
    with pytest.raises(DuplicateKeyError):
        await db.users.insert_one({"n": 4, "wechat_openid": "o-1"})


async def test_a_rotation_is_one_conditional_update_with_one_winner(db: Db) -> None:
    """refresh_tokens: unused and unexpired -> used, whatever runs in parallel."""
    now = datetime.now(UTC)
    await db.refresh_tokens.insert_one(
        {"token_hash": "h", "used": False, "expires_at": now + timedelta(days=1), "family": "f"}
    )

    async def use() -> dict[str, Any] | None:
        return await db.refresh_tokens.find_one_and_update(
            {"token_hash": "h", "used": False, "expires_at": {"$gt": now}}, {"$set": {"used": True}}
        )

    results = await asyncio.gather(*(use() for _ in range(12)))
    assert sum(r is not None for r in results) == 1
    doc = await db.refresh_tokens.find_one({"token_hash": "h"})
    assert doc is not None
    assert doc["used"]  # True on MongoDB, 1 on the embedded server: read it as a truth value
    assert await db.refresh_tokens.count_documents({"used": True}) == 1
    assert await db.refresh_tokens.count_documents({"used": False}) == 0
    expired = await db.refresh_tokens.find_one_and_update(
        {"token_hash": "h", "expires_at": {"$gt": now + timedelta(days=2)}}, {"$set": {"x": 1}}
    )
    assert expired is None
    assert (await db.refresh_tokens.delete_many({"family": "f"})).deleted_count == 1


async def test_booleans_set_by_an_update_match_equality_filters(db: Db) -> None:
    """users.disabled is set by updates and filtered by equality (admission, lists, counts)."""
    await db.users.insert_many([{"_id": i, "disabled": False} for i in range(4)])
    await db.users.update_one({"_id": 1}, {"$set": {"disabled": True}})
    await db.users.update_many({"_id": {"$in": [2]}}, {"$set": {"disabled": True}})
    enabled = await db.users.find({"disabled": False}).to_list()
    assert [d["_id"] for d in enabled] == [0, 3]
    assert await db.users.count_documents({"disabled": True}) == 2
    assert await db.users.count_documents({"disabled": False}) == 2


async def test_a_counter_taken_only_above_one(db: Db) -> None:
    """role_counts: of parallel demotions with two admins, exactly one takes the count."""
    await db.role_counts.insert_one({"_id": "admin", "n": 2})

    async def take() -> dict[str, Any] | None:
        return await db.role_counts.find_one_and_update(
            {"_id": "admin", "n": {"$gt": 1}}, {"$inc": {"n": -1}}
        )

    results = await asyncio.gather(*(take() for _ in range(10)))
    assert sum(r is not None for r in results) == 1
    await db.role_counts.update_one({"_id": "other"}, {"$inc": {"n": 1}}, upsert=True)
    assert (await db.role_counts.find_one({"_id": "other"}) or {})["n"] == 1


async def test_update_one_upsert_keyed_by_a_string_id_with_binary_data(db: Db) -> None:
    """avatars: one document per user, replaced by `update_one(..., upsert=True)` (the embedded
    server ignores the filter's _id in replace_one and find_one_and_replace upserts)."""
    jpeg = bytes(range(256)) * 40
    for data, etag in ((jpeg, "a"), (jpeg[::-1], "b")):
        await db.avatars.update_one(
            {"_id": "6b01b59ab1945f3903016ee2"},
            {"$set": {"username": "eric", "data": Binary(data), "etag": etag}},
            upsert=True,
        )
    doc = await db.avatars.find_one({"username": "eric"})
    assert doc is not None
    assert (doc["_id"], bytes(doc["data"]), doc["etag"]) == (
        "6b01b59ab1945f3903016ee2",
        jpeg[::-1],
        "b",
    )
    assert await db.avatars.count_documents({}) == 1


async def test_username_prefix_range_with_filters_counts_and_pages(db: Db) -> None:
    """The admin's user list: a range of the username index, equality filters, a sort with
    skip and limit, and count_documents of the same filter."""
    await db.users.create_index("username", unique=True)
    names = ["bob", "ed.d", "er.c", "eric", "erica", "ers", "es"]
    await db.users.insert_many(
        [
            {"username": n, "role": "user", "disabled": False, "created_at": i}
            for i, n in enumerate(names)
        ]
    )
    where = {"username": {"$gte": "er", "$lt": "es"}, "role": "user", "disabled": False}
    page = await db.users.find(where).sort([("created_at", DESCENDING)]).skip(1).limit(2).to_list()
    assert [d["username"] for d in page] == ["erica", "eric"]
    assert await db.users.count_documents(where) == 4


async def test_ip_window_steps(db: Db) -> None:
    """ip_limits: add to a live window; restart an expired one; create a missing one."""
    live = {"_id": "k", "exp_ms": {"$gt": 1000}}
    assert await db.ip_limits.find_one_and_update(live, {"$inc": {"hits": 1}}) is None
    await db.ip_limits.insert_one({"_id": "k", "hits": 1, "exp_ms": 2000})
    with pytest.raises(DuplicateKeyError):
        await db.ip_limits.insert_one({"_id": "k", "hits": 1, "exp_ms": 2000})
    added = await db.ip_limits.find_one_and_update(
        live, {"$inc": {"hits": 1}}, return_document=ReturnDocument.AFTER
    )
    assert added is not None
    assert added["hits"] == 2
    restarted = await db.ip_limits.find_one_and_update(
        {"_id": "k", "exp_ms": {"$lte": 3000}},
        {"$set": {"hits": 1, "exp_ms": 9000}},
        return_document=ReturnDocument.AFTER,
    )
    assert restarted is not None
    assert (restarted["hits"], restarted["exp_ms"]) == (1, 9000)


async def test_ttl_indexes_are_accepted(db: Db) -> None:
    await db.refresh_tokens.create_index("expires_at", expireAfterSeconds=0)
    info = await db.refresh_tokens.index_information()
    assert any(index.get("expireAfterSeconds") == 0 for index in info.values())


async def test_newest_of_a_history_range_with_find_one_and_a_sort(db: Db) -> None:
    """reports' last activity: the newest message of one owner."""
    await db.messages.insert_many(
        [
            {"history_key": f"a:{1_800_000_000_000 + i:013d}:x", "role": r, "n": i}
            for i, r in enumerate(["user", "assistant", "user", "assistant"])
        ]
    )
    doc = await db.messages.find_one(
        {"history_key": {"$gte": "a:", "$lt": "a;"}, "role": "user"},
        sort=[("history_key", DESCENDING)],
    )
    assert doc is not None
    assert doc["n"] == 2


# --- billing (billing/repository) ---
async def test_a_hold_is_decided_and_recorded_in_one_update(db: Db) -> None:
    """Reserve: enough available and the hold not yet counted, in the filter; $inc both
    amounts and $push the hold id in the update. 50 parallel holds on a balance for 7."""
    await db.credit_accounts.insert_one({"_id": "u", "available": 70, "on_hold": 0, "holds": []})

    async def reserve(n: int) -> dict[str, Any] | None:
        return await db.credit_accounts.find_one_and_update(
            {"_id": "u", "available": {"$gte": 10}, "holds": {"$nin": [f"h{n}"]}},
            {"$inc": {"available": -10, "on_hold": 10}, "$push": {"holds": f"h{n}"}},
            return_document=ReturnDocument.AFTER,
        )

    results = await asyncio.gather(*(reserve(n) for n in range(50)))
    assert sum(r is not None for r in results) == 7
    doc = await db.credit_accounts.find_one({"_id": "u"})
    assert doc is not None
    assert (doc["available"], doc["on_hold"], len(doc["holds"])) == (0, 70, 7)
    assert await reserve(0) is None  # the same hold id never counts twice


async def test_closing_a_hold_is_guarded_by_its_membership(db: Db) -> None:
    """Settle: the hold id in the array is the guard; pulling it, moving the money and writing
    the ledger entry ahead (a string in the journal, with its counter) are one update."""
    await db.credit_accounts.insert_one(
        {"_id": "u", "available": 0, "on_hold": 10, "holds": ["h1", "h2"], "journal": [],
         "journal_n": 0}
    )  # fmt: skip
    line = '{"d":-4,"k":"charge:h1"}'

    async def settle() -> dict[str, Any] | None:
        return await db.credit_accounts.find_one_and_update(
            {"_id": "u", "holds": "h1"},
            {
                "$inc": {"on_hold": -10, "available": 6, "journal_n": 1},
                "$pull": {"holds": "h1"},
                "$push": {"journal": line},
            },
            return_document=ReturnDocument.AFTER,
        )

    results = await asyncio.gather(*(settle() for _ in range(10)))
    [after] = [r for r in results if r is not None]
    assert (after["available"], after["on_hold"], after["holds"]) == (6, 0, ["h2"])
    assert (after["journal"], after["journal_n"]) == ([line], 1)
    assert await db.credit_accounts.count_documents({"journal_n": {"$gt": 0}}) == 1
    pulled = await db.credit_accounts.update_one(
        {"_id": "u", "journal": line}, {"$pull": {"journal": line}, "$inc": {"journal_n": -1}}
    )
    assert pulled.modified_count == 1
    again = await db.credit_accounts.update_one(
        {"_id": "u", "journal": line}, {"$pull": {"journal": line}, "$inc": {"journal_n": -1}}
    )
    assert again.modified_count == 0
    doc = await db.credit_accounts.find_one({"_id": "u"})
    assert doc is not None
    assert (doc["journal"], doc["journal_n"]) == ([], 0)


async def test_nin_on_an_array_guards_a_credit_once(db: Db) -> None:
    """A code is credited to an account once: `$nin` on the array of credited codes (not
    `$ne`, which the embedded server gets wrong on arrays)."""
    await db.credit_accounts.insert_one({"_id": "u", "available": 0, "redeemed": ["A"]})

    async def credit(code: str) -> dict[str, Any] | None:
        return await db.credit_accounts.find_one_and_update(
            {"_id": "u", "redeemed": {"$nin": [code]}},
            {"$inc": {"available": 5}, "$push": {"redeemed": code}},
        )

    assert await credit("A") is None
    results = await asyncio.gather(*(credit("B") for _ in range(10)))
    assert sum(r is not None for r in results) == 1
    doc = await db.credit_accounts.find_one({"_id": "u"})
    assert doc is not None
    assert (doc["available"], doc["redeemed"]) == (5, ["A", "B"])


async def test_keyed_inserts_keep_one(db: Db) -> None:
    """Ledger entries and usage records are keyed by `_id`: a second insert is refused."""
    await db.ledger.insert_one({"_id": "charge:h1", "delta": -4})
    with pytest.raises(DuplicateKeyError):
        await db.ledger.insert_one({"_id": "charge:h1", "delta": -4})
    assert await db.ledger.count_documents({}) == 1


async def test_a_code_is_used_once_of_many_parallel_attempts(db: Db) -> None:
    created = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    await db.redeem_codes.insert_one(
        {"_id": "C", "status": "unused", "expires_ms": 10**13, "created_at": created}
    )

    async def claim(n: int) -> dict[str, Any] | None:
        return await db.redeem_codes.find_one_and_update(
            {"_id": "C", "status": "unused", "expires_ms": {"$gt": 1000}},
            {"$set": {"status": "used", "used_by": f"u{n}", "used_ms": 1000, "credit_due": True}},
            return_document=ReturnDocument.AFTER,
        )

    results = await asyncio.gather(*(claim(n) for n in range(64)))
    [won] = [r for r in results if r is not None]
    assert won["status"] == "used"
    assert won["created_at"] == created  # an inserted date read back through the update
    due = await db.redeem_codes.find({"credit_due": True, "used_ms": {"$lt": 2000}}).to_list()
    assert [d["_id"] for d in due] == ["C"]


async def test_a_fixed_window_counter_in_one_update_each_way(db: Db) -> None:
    """Redeem attempts: count in the current window below the limit, or start a new one."""
    await db.credit_accounts.insert_one({"_id": "u", "att_w": 0, "att_n": 0})

    async def attempt(window: int, limit: int) -> bool:
        same = {"_id": "u", "att_w": window, "att_n": {"$lt": limit}}
        if await db.credit_accounts.find_one_and_update(same, {"$inc": {"att_n": 1}}):
            return True
        rolled = await db.credit_accounts.find_one_and_update(
            {"_id": "u", "att_w": {"$lt": window}}, {"$set": {"att_w": window, "att_n": 1}}
        )
        return rolled is not None or bool(
            await db.credit_accounts.find_one_and_update(same, {"$inc": {"att_n": 1}})
        )

    results = await asyncio.gather(*(attempt(3600, 5) for _ in range(20)))
    assert sum(results) == 5
    assert await attempt(7200, 5)
    doc = await db.credit_accounts.find_one({"_id": "u"})
    assert doc is not None
    assert (doc["att_w"], doc["att_n"]) == (7200, 1)


async def test_ledger_pages_as_a_range_of_one_string_key(db: Db) -> None:
    await db.ledger.create_index("user_key")
    for user in ("u", "uv", "v"):
        await db.ledger.insert_many(
            [{"user_key": f"{user}:{1_800_000_000_000 + i:013d}:k{i}", "n": i} for i in range(7)]
        )
    query = {"user_key": {"$gte": "u:", "$lt": "u;"}}
    page = await db.ledger.find(query).sort("user_key", DESCENDING).skip(2).limit(3).to_list()
    assert [d["n"] for d in page] == [4, 3, 2]
    assert await db.ledger.count_documents(query) == 7


async def test_usage_groups_on_one_stored_bucket_key(db: Db) -> None:
    """Usage per (day, model) is grouped on a stored "<day>|<model>" string: the embedded
    server has no $dateToString and no compound $group keys."""
    rows = [("2026-11-20", "a", 1), ("2026-11-21", "a", 2), ("2026-11-21", "a", 3),
            ("2026-11-21", "b", 4), ("2026-11-22", "a", 5)]  # fmt: skip
    await db.usage_records.insert_many(
        [
            {"user_bucket": f"u:{day}|{model}", "bucket": f"{day}|{model}", "cost": cost}
            for day, model, cost in rows
        ]
        + [{"user_bucket": "v:2026-11-21|a", "bucket": "2026-11-21|a", "cost": 100}]
    )
    cursor = await db.usage_records.aggregate(
        [
            {"$match": {"user_bucket": {"$gte": "u:2026-11-21", "$lt": "u:2026-11-22"}}},
            {"$group": {"_id": "$bucket", "n": {"$sum": 1}, "cost": {"$sum": "$cost"}}},
        ]
    )
    grouped = {r["_id"]: (r["n"], r["cost"]) for r in await cursor.to_list()}
    assert grouped == {"2026-11-21|a": (2, 5), "2026-11-21|b": (1, 4)}


async def test_everyones_usage_is_a_range_of_the_bucket_key(db: Db) -> None:
    """GET /admin/usage: every user's (day, model) buckets of a period, a range of the single-
    field `bucket` index ("<day>|<model>" sorts by day first), grouped like one user's."""
    await db.usage_records.create_index([("bucket", ASCENDING)], name="bucket")
    rows = [("u", "2026-11-20", "a", 1), ("u", "2026-11-21", "a", 2), ("v", "2026-11-21", "a", 3),
            ("v", "2026-11-21", "b", 4), ("u", "2026-11-22", "a", 5)]  # fmt: skip
    await db.usage_records.insert_many(
        [
            {"user_bucket": f"{user}:{day}|{model}", "bucket": f"{day}|{model}", "cost": cost}
            for user, day, model, cost in rows
        ]
    )
    cursor = await db.usage_records.aggregate(
        [
            {"$match": {"bucket": {"$gte": "2026-11-21", "$lt": "2026-11-22"}}},
            {"$group": {"_id": "$bucket", "n": {"$sum": 1}, "cost": {"$sum": "$cost"}}},
        ]
    )
    grouped = {r["_id"]: (r["n"], r["cost"]) for r in await cursor.to_list()}
    assert grouped == {"2026-11-21|a": (2, 5), "2026-11-21|b": (1, 4)}


async def test_stale_holds_by_age_and_deleted_when_closed(db: Db) -> None:
    await db.holds.create_index("created_ms")
    await db.holds.insert_many([{"_id": f"h{i}", "created_ms": 1000 * i} for i in range(10)])
    stale = await db.holds.find({"created_ms": {"$lt": 3500}}, limit=2).to_list()
    assert len(stale) == 2
    assert {d["_id"] for d in stale} <= {"h0", "h1", "h2", "h3"}
    assert (await db.holds.delete_one({"_id": "h0"})).deleted_count == 1
    assert (await db.holds.delete_one({"_id": "h0"})).deleted_count == 0


async def test_codes_list_newest_first_by_status(db: Db) -> None:
    """Codes of one batch share their time: sorted on it descending, then by code."""
    batches = [(1000, ["B", "A", "C"]), (2000, ["E", "D"])]
    await db.redeem_codes.insert_many(
        [
            {"_id": code, "created_ms": ms, "status": "unused", "expires_ms": 10**13}
            for ms, codes in batches
            for code in codes
        ]
    )
    await db.redeem_codes.update_one({"_id": "A"}, {"$set": {"expires_ms": 500}})
    unused = {"status": "unused", "expires_ms": {"$gt": 1500}}
    page = (
        await db.redeem_codes.find(unused)
        .sort([("created_ms", DESCENDING), ("_id", 1)])
        .skip(1)
        .limit(3)
        .to_list()
    )
    assert [d["_id"] for d in page] == ["E", "B", "C"]
    assert await db.redeem_codes.count_documents(unused) == 4
    expired = {"status": "unused", "expires_ms": {"$lte": 1500}}
    assert await db.redeem_codes.count_documents(expired) == 1


async def test_a_keys_daily_count_in_one_conditional_update(db: Db) -> None:
    """keys/repository.py: the same day counts below the cap; a later day (an ordinal) starts
    again at 1."""
    big = 2**62
    oid = (
        await db.api_keys.insert_one(
            {"enabled": True, "expires_ms": big, "daily_cap": 2, "day": 0, "day_count": 0}
        )
    ).inserted_id
    usable = {"_id": oid, "enabled": True, "expires_ms": {"$gt": 1_000}, "daily_cap": 2}
    same_day = {**usable, "day": 739_000, "day_count": {"$lt": 2}}
    count = {"$inc": {"day_count": 1}}
    assert await db.api_keys.find_one_and_update(same_day, count) is None
    new_day = {**usable, "day": {"$lt": 739_000}}
    start = {"$set": {"day": 739_000, "day_count": 1}}
    assert await db.api_keys.find_one_and_update(new_day, start) is not None
    assert await db.api_keys.find_one_and_update(new_day, start) is None
    assert await db.api_keys.find_one_and_update(same_day, count) is not None
    assert await db.api_keys.find_one_and_update(same_day, count) is None  # at the cap
    assert await db.api_keys.find_one_and_update({**usable, "daily_cap": 3}, count) is None
    assert await db.api_keys.find_one_and_update({**usable, "enabled": False}, count) is None
    expired = {**usable, "expires_ms": {"$gt": big}}
    assert await db.api_keys.find_one_and_update(expired, count) is None
    doc = await db.api_keys.find_one({"_id": oid})
    assert doc is not None
    assert (doc["day"], doc["day_count"]) == (739_000, 2)


async def test_provider_keys_upsert_on_one_unique_slot(db: Db) -> None:
    await db.provider_keys.create_index("slot", unique=True)
    for secret in ("one", "two"):
        await db.provider_keys.update_one(
            {"slot": "u:openai"}, {"$set": {"user_id": "u", "secret": secret}}, upsert=True
        )
    docs = await db.provider_keys.find({"user_id": "u"}).to_list()
    assert [(d["slot"], d["secret"]) for d in docs] == [("u:openai", "two")]


# --- API keys' budgets (billing/repository/budgets.py, keys/repository.py) ---
async def test_a_budget_moves_by_inc_below_zero_and_is_read_by_id_in(db: Db) -> None:
    """A cap change is one `$inc` of `available` (it may go below zero: holds then refuse on
    `$gte`), and a page of keys reads its budgets with one `$in` on string `_id`s."""
    await db.credit_accounts.insert_many(
        [{"_id": "key:a", "available": 30, "on_hold": 10}, {"_id": "key:b", "available": 5}]
    )
    take = {"$inc": {"available": -10}}
    moved = await asyncio.gather(
        *(db.credit_accounts.update_one({"_id": "key:a"}, take) for _ in range(4))
    )
    assert all(r.matched_count == 1 for r in moved)
    refused = await db.credit_accounts.find_one_and_update(
        {"_id": "key:a", "available": {"$gte": 1}}, {"$inc": {"available": -1}}
    )
    assert refused is None
    found = await db.credit_accounts.find(
        {"_id": {"$in": ["key:a", "key:b", "key:missing"]}}, projection={"available": 1}
    ).to_list()
    assert sorted((d["_id"], d["available"]) for d in found) == [("key:a", -10), ("key:b", 5)]


async def test_find_one_and_update_returns_the_document_before(db: Db) -> None:
    """A key's change returns its cap before the change: parallel changes each see the one
    the change before them left (their differences add up to the last cap)."""
    key_id = (await db.api_keys.insert_one({"max_credits": 100})).inserted_id

    async def change(cap: int) -> Any:
        before = await db.api_keys.find_one_and_update(
            {"_id": key_id}, {"$set": {"max_credits": cap}}, return_document=ReturnDocument.BEFORE
        )
        assert before is not None
        return cap - before["max_credits"]

    deltas = await asyncio.gather(*(change(cap) for cap in (10, 20, 30, 40, 50)))
    doc = await db.api_keys.find_one({"_id": key_id})
    assert doc is not None
    assert 100 + sum(deltas) == doc["max_credits"]


async def _task(db: Db, task_id: str, **fields: Any) -> None:
    doc = {
        "_id": task_id,
        "owner_id": "u",
        "status": "queued",
        "claimed": False,
        "out": [],
        "lease_ms": 1_000,
        "finished_ms": 0,
        "payload": {"message_id": "m", "hold_id": None, "default": True, "slot": 2},
        "list_key": f"u:{1_800_000_000_000 + len(task_id):013d}:{task_id}",
    }
    await db.tasks.insert_one({**doc, **fields})


async def test_task_output_is_pushed_only_while_the_task_runs(db: Db) -> None:
    """tasks/repository.py: start, flushes ($push of a string with the lease, one update),
    a cancel, and a flush refused after it."""
    await db.tasks.create_index("status")
    await _task(db, "t")
    running = {"_id": "t", "status": "running"}
    start = await db.tasks.update_one(
        {"_id": "t", "status": "queued"}, {"$set": {"status": "running", "lease_ms": 2_000}}
    )
    assert start.matched_count == 1
    for i, text in enumerate(["Hello", " Eric!", ""]):
        update: dict[str, Any] = {"$set": {"lease_ms": 3_000 + i}}
        if text:
            update["$push"] = {"out": text}
        assert (await db.tasks.update_one(running, update)).matched_count == 1
    cancel = await db.tasks.find_one_and_update(
        {"_id": "t", "owner_id": "u", "status": "running"},
        {"$set": {"status": "cancelled", "finished_ms": 5_000}},
        return_document=ReturnDocument.AFTER,
    )
    assert cancel is not None
    refused = await db.tasks.update_one(running, {"$push": {"out": " more"}})
    assert refused.matched_count == 0
    doc = await db.tasks.find_one({"_id": "t"})
    assert doc is not None
    assert doc["out"] == ["Hello", " Eric!"]
    assert (doc["status"], doc["lease_ms"], doc["finished_ms"]) == ("cancelled", 3_002, 5_000)
    assert doc["payload"] == {"message_id": "m", "hold_id": None, "default": True, "slot": 2}


async def test_a_task_stream_is_claimed_once_of_many_parallel_attempts(db: Db) -> None:
    await _task(db, "t")

    async def claim() -> dict[str, Any] | None:
        return await db.tasks.find_one_and_update(
            {"_id": "t", "owner_id": "u", "claimed": False},
            {"$set": {"claimed": True}},
            return_document=ReturnDocument.AFTER,
        )

    claims = await asyncio.gather(*(claim() for _ in range(20)))
    won = [c for c in claims if c is not None]
    assert len(won) == 1
    assert bool(won[0]["claimed"]) is True  # the embedded server reads a $set True back as 1
    assert await db.tasks.find_one({"_id": "t", "claimed": False}) is None


async def test_an_expired_live_task_is_failed_once(db: Db) -> None:
    """The sweeper's query (live status, lease before now: the status index) and its one
    conditional update, raced by two workers; the last output is pushed with it."""
    await db.tasks.create_index("status")
    await _task(db, "dead", status="running", lease_ms=1_000, out=["a"])
    await _task(db, "alive", status="running", lease_ms=9_000)
    await _task(db, "done", status="done", lease_ms=1_000)
    expired = db.tasks.find({"status": "running", "lease_ms": {"$lt": 5_000}})
    assert [d["_id"] async for d in expired] == ["dead"]

    async def fail() -> dict[str, Any] | None:
        return await db.tasks.find_one_and_update(
            {"_id": "dead", "status": "running", "lease_ms": {"$lt": 5_000}},
            {"$set": {"status": "failed", "final": '{"code": "x"}'}, "$push": {"out": "b"}},
            return_document=ReturnDocument.AFTER,
        )

    results = await asyncio.gather(fail(), fail())
    won = [r for r in results if r is not None]
    assert len(won) == 1
    assert (won[0]["status"], won[0]["out"], won[0]["final"]) == (
        "failed",
        ["a", "b"],
        '{"code": "x"}',
    )


async def test_tasks_page_by_list_key_and_are_deleted_by_range(db: Db) -> None:
    await db.tasks.create_index("list_key")
    await db.tasks.create_index("finished_ms")
    for name, finished in (("a", 1_000), ("bb", 0), ("ccc", 9_000)):
        await _task(db, name, finished_ms=finished)
    await _task(db, "other", owner_id="v", list_key="v:1800000000000:other", finished_ms=1_000)
    mine = {"list_key": {"$gte": "u:", "$lt": "u;"}}
    page = db.tasks.find(mine).sort("list_key", DESCENDING).skip(1).limit(1)
    assert [d["_id"] async for d in page] == ["bb"]
    assert await db.tasks.count_documents(mine) == 3
    old = await db.tasks.delete_many({"finished_ms": {"$gt": 0, "$lt": 5_000}})
    assert old.deleted_count == 2  # "a" and the other user's; never the live "bb"
    await db.tasks.delete_many(mine)
    assert [d["_id"] async for d in db.tasks.find({})] == []
