"""Personal API keys through the ASGI app: created once, stored hashed, accepted on the model
routes (and nowhere that manages the account: tests/keys/test_scopes.py), refused clearly
when expired, disabled, deleted or used outside their caps."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from simplechat.config import Settings
from tests.factories import app_client, serve, sign_up, sign_up_admin, stored_documents

SEED = "hi, my name is Eric"
COMPLETION = {"model": "mock", "messages": [{"role": "user", "content": SEED}]}


async def new_key(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    response = await client.post("/user/keys", json={"name": "laptop", **fields}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with room under the user's own limits: these tests are about the key's."""
    async with app_client(with_limits(settings, burst_limit=50)) as http:
        yield http


def with_limits(settings: Settings, **limits: int) -> Settings:
    values = settings.model_dump()
    values.update(limits)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key']}"}


async def set_key_field(settings: Settings, key_id: str, **fields: Any) -> None:
    """Change a key document directly (to move its expiry into the past)."""
    from bson import ObjectId

    assert settings.mongodb_uri is not None
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        await client[settings.mongodb_db].api_keys.update_one(
            {"_id": ObjectId(key_id)}, {"$set": fields}
        )
    finally:
        await client.close()


class TestCreateAndList:
    async def test_the_key_is_shown_once_and_stored_as_a_hash_only(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str], settings: Settings
    ) -> None:
        created = await new_key(client, auth_headers, daily_limit=5, models=["mock"])
        secret = created["key"]
        assert secret.startswith("sk-sc-")
        assert len(secret) >= 6 + 43
        assert created["masked"].startswith(created["prefix"])
        assert secret not in created["masked"]
        listed = (await client.get("/user/keys", headers=auth_headers)).json()
        assert [k["id"] for k in listed] == [created["id"]]
        assert "key" not in listed[0]
        assert listed[0]["daily_limit"] == 5
        assert listed[0]["models"] == ["mock"]
        docs = await stored_documents(settings, "api_keys")
        assert len(docs) == 1
        assert secret not in repr(docs)  # neither the key nor its random part in clear
        assert secret[len("sk-sc-") :] not in repr(docs)
        assert len(docs[0]["key_hash"]) == 64

    async def test_bad_input_is_a_clear_422(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        for body in (
            {"name": ""},
            {"name": "x", "daily_limit": -1},
            {"name": "x", "expires_at": "2001-01-01T00:00:00Z"},
            {"name": "x", "models": []},
            {"name": "x", "surprise": 1},
        ):
            response = await client.post("/user/keys", json=body, headers=auth_headers)
            assert response.status_code == 422, (body, response.text)

    async def test_another_users_or_a_missing_key_is_404(self, client: httpx.AsyncClient) -> None:
        eric, ada = await sign_up(client, "eric"), await sign_up(client, "ada")
        key = await new_key(client, eric)
        for path in (f"/user/keys/{key['id']}", "/user/keys/nope", "/user/keys/" + "0" * 24):
            assert (await client.patch(path, json={"name": "x"}, headers=ada)).status_code == 404
            assert (await client.delete(path, headers=ada)).status_code == 404
        assert (await client.get("/user/keys", headers=ada)).json() == []


class TestKeyAuth:
    async def test_a_key_works_on_every_chat_route(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        headers = bearer(await new_key(client, auth_headers))
        sent = await client.post("/llm/message", json={"message": SEED}, headers=headers)
        assert sent.status_code == 200, sent.text
        advanced = await client.post(
            "/llm/message/advanced", json={"message": "x"}, headers=headers
        )
        assert advanced.status_code == 200, advanced.text
        completion = await client.post("/v1/chat/completions", json=COMPLETION, headers=headers)
        assert completion.status_code == 200, completion.text
        streamed = await client.post(
            "/v1/chat/completions", json={**COMPLETION, "stream": True}, headers=headers
        )
        assert streamed.status_code == 200
        assert "data: [DONE]" in streamed.text
        conversation = await client.post("/conversations", json={}, headers=headers)
        assert conversation.status_code == 201, conversation.text
        cid = conversation.json()["id"]
        in_it = await client.post(
            "/llm/message", json={"message": "y", "conversation_id": cid}, headers=headers
        )
        assert in_it.status_code == 200
        again = await client.post(f"/conversations/{cid}/regenerate", headers=headers)
        assert again.status_code == 200, again.text
        for path in (
            "/v1/models",
            "/user/history/10",
            "/conversations",
            "/user/status",
        ):
            assert (await client.get(path, headers=headers)).status_code == 200, path
        keys = (await client.get("/user/keys", headers=auth_headers)).json()
        assert keys[0]["uses"] == 6
        assert keys[0]["used_today"] == 6
        assert keys[0]["last_used_at"] is not None

    async def test_disabled_deleted_expired_and_unknown_keys_are_401(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str], settings: Settings
    ) -> None:
        disabled, deleted, expired = [await new_key(client, auth_headers) for _ in range(3)]
        await client.patch(
            f"/user/keys/{disabled['id']}", json={"enabled": False}, headers=auth_headers
        )
        await client.delete(f"/user/keys/{deleted['id']}", headers=auth_headers)
        await set_key_field(settings, expired["id"], expires_ms=int(time.time() * 1000) - 1)
        unknown = {"key": "sk-sc-" + "A" * 43}
        for key in (disabled, deleted, expired, unknown):
            refused = await client.post(
                "/v1/chat/completions", json=COMPLETION, headers=bearer(key)
            )
            assert refused.status_code == 401, refused.text
            error = refused.json()["error"]  # OpenAI's shape on /v1
            assert error["code"] == "invalid_api_key"
            assert "disabled, expired or deleted" in error["message"]
            other = await client.post("/llm/message", json={"message": "x"}, headers=bearer(key))
            assert other.status_code == 401
            assert other.json()["code"] == "invalid_api_key"
            assert (await client.get("/v1/models", headers=bearer(key))).status_code == 401
        again = await client.patch(
            f"/user/keys/{disabled['id']}", json={"enabled": True}, headers=auth_headers
        )
        assert again.json()["enabled"] is True
        ok = await client.post("/v1/chat/completions", json=COMPLETION, headers=bearer(disabled))
        assert ok.status_code == 200

    async def test_a_model_outside_the_allow_list_is_403_and_not_counted(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        key = await new_key(client, auth_headers, models=["some-other-model"])
        refused = await client.post("/v1/chat/completions", json=COMPLETION, headers=bearer(key))
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "model_not_allowed"
        listed = (await client.get("/user/keys", headers=auth_headers)).json()
        assert listed[0]["uses"] == 0
        await client.patch(f"/user/keys/{key['id']}", json={"models": None}, headers=auth_headers)
        ok = await client.post("/v1/chat/completions", json=COMPLETION, headers=bearer(key))
        assert ok.status_code == 200

    async def test_the_allow_list_filters_the_model_lists(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        every = [
            m["id"] for m in (await client.get("/v1/models", headers=auth_headers)).json()["data"]
        ]
        assert len(every) > 2
        allowed = [every[1], "mock"]
        key = await new_key(client, auth_headers, models=allowed)
        on_v1 = (await client.get("/v1/models", headers=bearer(key))).json()["data"]
        assert [m["id"] for m in on_v1] == [m for m in every if m in allowed]
        on_llm = (await client.get("/llm/models", headers=bearer(key))).json()
        assert [m["name"] for m in on_llm] == [m for m in every if m in allowed]
        open_key = await new_key(client, auth_headers)
        listed = (await client.get("/v1/models", headers=bearer(open_key))).json()["data"]
        assert [m["id"] for m in listed] == every

    async def test_the_daily_cap_refuses_with_429_and_can_be_raised(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        key = await new_key(client, auth_headers, daily_limit=2)
        for _ in range(2):
            ok = await client.post("/v1/chat/completions", json=COMPLETION, headers=bearer(key))
            assert ok.status_code == 200
        refused = await client.post("/v1/chat/completions", json=COMPLETION, headers=bearer(key))
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "key_daily_limit"
        assert int(refused.headers["Retry-After"]) >= 1
        # the user's own token is not capped by the key
        assert (
            await client.post("/v1/chat/completions", json=COMPLETION, headers=auth_headers)
        ).status_code == 200
        await client.patch(f"/user/keys/{key['id']}", json={"daily_limit": 3}, headers=auth_headers)
        ok = await client.post("/v1/chat/completions", json=COMPLETION, headers=bearer(key))
        assert ok.status_code == 200

    async def test_the_users_own_limits_still_apply_and_give_the_keys_count_back(
        self, settings: Settings
    ) -> None:
        async with app_client(with_limits(settings, burst_limit=1)) as client:
            headers = await sign_up(client, "eric")
            key = await new_key(client, headers, daily_limit=5)
            ok = await client.post("/llm/message", json={"message": "a"}, headers=bearer(key))
            assert ok.status_code == 200
            refused = await client.post("/llm/message", json={"message": "b"}, headers=bearer(key))
            assert refused.json()["code"] == "burst_limit"
            listed = (await client.get("/user/keys", headers=headers)).json()
            assert listed[0]["used_today"] == 1  # the refused message counts for nothing


class TestAdmin:
    async def test_admins_page_every_key_and_disable_any(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        eric = await sign_up(client, "eric")
        admin = await sign_up_admin(client, settings, "root")
        key = await new_key(client, eric)
        assert (await client.get("/admin/keys", headers=eric)).status_code == 403
        page = (await client.get("/admin/keys", headers=admin)).json()
        assert page["total"] == 1
        assert page["items"][0]["id"] == key["id"]
        assert "key" not in page["items"][0]
        mine = (await client.get("/admin/keys?username=root", headers=admin)).json()
        assert mine["total"] == 0
        gone = await client.get("/admin/keys?username=nobody", headers=admin)
        assert gone.status_code == 404
        off = await client.patch(f"/admin/keys/{key['id']}", json={"enabled": False}, headers=admin)
        assert off.status_code == 200
        assert off.json()["enabled"] is False
        refused = await client.get("/v1/models", headers=bearer(key))
        assert refused.status_code == 401
        audit = (await client.get("/admin/audit", headers=admin)).json()["items"]
        assert audit[0]["action"] == "key.disable"
        missing = await client.patch("/admin/keys/nope", json={"enabled": False}, headers=admin)
        assert missing.status_code == 404


@pytest.mark.parametrize("route", ["/user/keys"])
async def test_keys_need_a_login(client: httpx.AsyncClient, route: str) -> None:
    assert (await client.get(route)).status_code == 401


def test_the_daily_cap_holds_across_two_workers(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    """10 parallel requests on a key with 3 left, against `serve --workers 2`: exactly 3."""
    env = {"SIMPLECHAT_DAILY_LIMIT": "100", "SIMPLECHAT_BURST_LIMIT": "100"}
    with serve(mongo_uri, database_name, tmp_path, **env) as base:
        responses = asyncio.run(_burst_on_a_key(base, daily_limit=4, used_first=1))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 3 + [429] * 7, statuses
    refused = [r.json()["error"]["code"] for r in responses if r.status_code == 429]
    assert set(refused) == {"key_daily_limit"}


async def _burst_on_a_key(base: str, *, daily_limit: int, used_first: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        headers = await sign_up(client, "eric")
        key = await new_key(client, headers, daily_limit=daily_limit)
        for _ in range(used_first):
            first = await client.post("/v1/chat/completions", json=COMPLETION, headers=bearer(key))
            assert first.status_code == 200
        return list(
            await asyncio.gather(
                *(
                    client.post("/v1/chat/completions", json=COMPLETION, headers=bearer(key))
                    for _ in range(10)
                )
            )
        )
