"""The caller's own profile and account deletion through the ASGI app."""

from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from simplechat.config import Settings
from tests.accounts.test_avatars import photo_jpeg
from tests.accounts.test_router import assert_error
from tests.factories import app_client, log_in, sign_up, sign_up_admin, wait_finished


async def test_me_shows_role_and_level(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    me = (await client.get("/user/me", headers=auth_headers)).json()
    assert me["role"] == "user"
    assert me["level"] == 1
    assert me["email"] is None
    assert me["display_name"] is None
    assert "password" not in str(me)
    assert "hash" not in str(me)


class TestProfile:
    async def test_patch_changes_only_what_is_sent(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        both = await client.patch(
            "/user/me",
            json={"email": "eric@example.com", "display_name": "Eric"},
            headers=auth_headers,
        )
        assert both.status_code == 200, both.text
        assert (both.json()["email"], both.json()["display_name"]) == ("eric@example.com", "Eric")
        one = await client.patch("/user/me", json={"display_name": "E."}, headers=auth_headers)
        assert (one.json()["email"], one.json()["display_name"]) == ("eric@example.com", "E.")
        cleared = await client.patch("/user/me", json={"email": None}, headers=auth_headers)
        assert cleared.json()["email"] is None
        me = (await client.get("/user/me", headers=auth_headers)).json()
        assert (me["email"], me["display_name"]) == (None, "E.")

    async def test_an_empty_patch_changes_nothing(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        response = await client.patch("/user/me", json={}, headers=auth_headers)
        assert response.status_code == 200, response.text
        assert response.json()["username"] == "eric"

    async def test_bad_values_are_422(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        for body in (
            {"email": "not-an-email"},
            {"display_name": "   "},
            {"display_name": "x" * 65},
            {"role": "admin"},
            {"username": "someone"},
        ):
            response = await client.patch("/user/me", json=body, headers=auth_headers)
            assert_error(response, 422, "invalid_input")
        me = (await client.get("/user/me", headers=auth_headers)).json()
        assert me["role"] == "user"


PRICED_MOCK = """
[[models]]
name = "mock"
price = { input = "1", output = "1" }
"""


def collections(settings: Settings) -> dict[str, Any]:
    assert settings.mongodb_uri is not None
    mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri.get_secret_value())
    database = mongo[settings.mongodb_db]
    return {"mongo": mongo, "db": database}


def owned(settings: Settings, user_id: str, username: str) -> dict[str, int]:
    """How many documents of each collection belong to the user."""
    handles = collections(settings)
    database = handles["db"]
    try:
        return {
            "users": database.users.count_documents({"username": username}),
            "messages": database.messages.count_documents({"owner_id": user_id}),
            "limit_refusals": database.limit_refusals.count_documents({"user_id": user_id}),
            "refresh_tokens": database.refresh_tokens.count_documents({"user_id": user_id}),
            "avatars": database.avatars.count_documents({"_id": user_id}),
            "conversations": database.conversations.count_documents({"owner_id": user_id}),
            "presets": database.presets.count_documents({"scope": user_id}),
            "tasks": database.tasks.count_documents({"owner_id": user_id}),
        }
    finally:
        handles["mongo"].close()


def billing_owned(settings: Settings, user_id: str) -> dict[str, int]:
    """How many billing documents belong to the user."""
    handles = collections(settings)
    database = handles["db"]
    try:
        return {
            "credit_accounts": database.credit_accounts.count_documents({"_id": user_id}),
            "ledger": database.ledger.count_documents({"user_id": user_id}),
            "holds": database.holds.count_documents({"user_id": user_id}),
            "usage_records": database.usage_records.count_documents({"user_id": user_id}),
        }
    finally:
        handles["mongo"].close()


async def give_eric_some_data(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    for text in ("hi", "hello"):
        await client.post("/llm/message", json={"message": text}, headers=headers)
    conversation = (await client.post("/conversations", json={}, headers=headers)).json()["id"]
    url = f"/conversations/{conversation}/tasks"
    task = (await client.post(url, json={"message": "hey"}, headers=headers)).json()
    await wait_finished(client, headers, task["task_id"])
    await client.post(
        "/llm/message", json={"message": "refused by the burst limit"}, headers=headers
    )
    await client.put(
        "/user/me/avatar", content=photo_jpeg(), headers={**headers, "Content-Type": "image/jpeg"}
    )
    preset = {"name": "Mine", "messages": [{"role": "system", "content": "Be brief."}]}
    assert (await client.post("/presets", json=preset, headers=headers)).status_code == 201
    user_id: str = (await client.get("/user/me", headers=headers)).json()["id"]
    return user_id


class TestDeleteMe:
    async def test_deleting_removes_the_account_and_everything_it_owns(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        headers = await sign_up(client, "eric")
        user_id = await give_eric_some_data(client, headers)
        other = await sign_up(client, "mallory")
        await client.post("/llm/message", json={"message": "mine"}, headers=other)
        before = owned(settings, user_id, "eric")
        assert all(before.values()), before
        wrong = await client.request(
            "DELETE", "/user/me", json={"password": "not-it-at-all"}, headers=headers
        )
        assert_error(wrong, 401, "invalid_credentials")
        response = await client.request(
            "DELETE", "/user/me", json={"password": "password123"}, headers=headers
        )
        assert response.status_code == 204, response.text
        assert owned(settings, user_id, "eric") == dict.fromkeys(before, 0)
        assert_error(await client.get("/user/me", headers=headers), 401, "not_authenticated")
        assert (await client.get("/users/eric/avatar")).status_code == 404
        # the name is free again, and nobody else lost anything
        assert (
            await client.post("/user/", json={"username": "eric", "password": "password123"})
        ).status_code == 201
        history = (await client.get("/user/history/10", headers=other)).json()
        assert history[0]["text"] == "mine"

    async def test_deleting_removes_the_credit_account_ledger_holds_and_usage(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        models = tmp_path / "models.toml"
        models.write_text(PRICED_MOCK, encoding="utf-8")
        values = settings.model_dump() | {
            "credits": True,
            "signup_credits": "10",
            "models_file": models,
            "default_model": "mock",
        }
        async with app_client(Settings(_env_file=None, **values)) as client:  # type: ignore[call-arg]
            headers = await sign_up(client, "eric")
            other = await sign_up(client, "mallory")
            user_id = await give_eric_some_data(client, headers)
            await client.post("/llm/message", json={"message": "mine"}, headers=other)
            other_id = (await client.get("/user/me", headers=other)).json()["id"]
            handles = collections(settings)
            try:  # a turn in flight when the account goes
                hold = {"_id": "a" * 24, "user_id": user_id, "model": "mock", "amount": 1,
                        "reference": "m", "created_ms": 0}  # fmt: skip
                handles["db"].holds.insert_one(hold)
            finally:
                handles["mongo"].close()
            before = billing_owned(settings, user_id)
            assert all(before.values()), before
            response = await client.request(
                "DELETE", "/user/me", json={"password": "password123"}, headers=headers
            )
            assert response.status_code == 204, response.text
            assert billing_owned(settings, user_id) == dict.fromkeys(before, 0)
            kept = billing_owned(settings, other_id)
            assert (kept["credit_accounts"], kept["ledger"], kept["usage_records"]) == (1, 2, 1)
            money = (await client.get("/user/credits", headers=other)).json()
            assert money["ledger"]["total"] == 2  # the signup and the charge

    async def test_the_last_admin_cannot_delete_themselves(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        alice = await sign_up_admin(client, settings, "alice")
        response = await client.request(
            "DELETE", "/user/me", json={"password": "password123"}, headers=alice
        )
        assert_error(response, 409, "last_admin")
        assert (await client.get("/user/me", headers=alice)).status_code == 200
        bob = await sign_up_admin(client, settings, "bob")
        gone = await client.request(
            "DELETE", "/user/me", json={"password": "password123"}, headers=alice
        )
        assert gone.status_code == 204
        me = (await client.get("/user/me", headers=bob)).json()
        assert me["role"] == "admin"
        assert_error(
            await client.request(
                "DELETE", "/user/me", json={"password": "password123"}, headers=bob
            ),
            409,
            "last_admin",
        )
        assert (await log_in(client, "bob"))["Authorization"]
