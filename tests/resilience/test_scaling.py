"""Every per-request query is served by an index on both servers, so a request's cost does not
grow with other users' data. The embedded server only uses single-field indexes (a compound
index is not used even for its prefix), which is why a user's history is read as a range of
the single-field `history_key` index."""

from typing import Any

from pymongo import DESCENDING, AsyncMongoClient

from simplechat.config import Settings
from tests.factories import app_client, sign_up


def uses_index(plan: Any) -> bool:
    """MongoDB names an IXSCAN stage; the embedded server's SQLite plan says USING INDEX."""
    text = str(plan)
    return "IXSCAN" in text or "USING INDEX" in text or "USING COVERING INDEX" in text


async def test_history_queries_use_an_index(settings: Settings) -> None:
    async with app_client(settings) as client:  # creates the indexes
        headers = await sign_up(client, "eric")
        await client.post("/llm/message", json={"message": "hello"}, headers=headers)
        owner = (await client.get("/user/me", headers=headers)).json()["id"]
    assert settings.mongodb_uri is not None
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        messages = mongo[settings.mongodb_db].messages
        owned = {"history_key": {"$gte": f"{owner}:", "$lt": f"{owner};"}}
        prompt = messages.find(owned, {"text": 1, "tokens": 1}).sort("history_key", DESCENDING)
        history = messages.find(owned).sort("history_key", DESCENDING)
        for cursor in (prompt.limit(100), history.limit(10)):
            plan = (await cursor.explain())["queryPlanner"]["winningPlan"]
            assert uses_index(plan), plan
    finally:
        await mongo.close()


async def test_conversation_and_preset_queries_use_an_index(settings: Settings) -> None:
    async with app_client(settings) as client:
        headers = await sign_up(client, "eric")
        await client.post("/llm/message", json={"message": "hello"}, headers=headers)
        owner = (await client.get("/user/me", headers=headers)).json()["id"]
    assert settings.mongodb_uri is not None
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        db = mongo[settings.mongodb_db]
        in_conversation = {
            "conversation_key": {"$gte": f"{owner}:", "$lt": f"{owner};"},
            "visible": True,
        }
        listed = {
            "list_key": {"$gte": f"{owner}:", "$lt": f"{owner};"},
            "title_folded": {"$regex": "hel"},
        }
        cursors = [
            db.messages.find(in_conversation).sort("conversation_key", DESCENDING).limit(101),
            db.messages.find(in_conversation).sort("conversation_key", 1).skip(20).limit(20),
            db.conversations.find(listed).sort("list_key", DESCENDING).limit(20),
            db.presets.find({"scope": "public"}).sort("created_at", 1).limit(20),
            db.presets.find({"scope": owner}).sort("created_at", 1).skip(3).limit(20),
        ]
        for cursor in cursors:
            plan = (await cursor.explain())["queryPlanner"]["winningPlan"]
            assert uses_index(plan), plan
    finally:
        await mongo.close()
