"""The admin area through the ASGI app."""

import re
from typing import Any

import httpx
import pytest

from simplechat.config import Settings
from tests.accounts.test_router import assert_error
from tests.factories import log_in, sign_up, sign_up_admin


@pytest.fixture
async def admin(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    return await sign_up_admin(client, settings, "alice")


def filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "someone", path)


async def test_every_admin_operation_is_401_without_a_token_and_403_for_a_user(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    """Walks the OpenAPI schema, so a new admin route cannot forget its door."""
    spec = (await client.get("/openapi.json")).json()
    operations = [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        if path.startswith("/admin")
        for method in item
    ]
    assert len(operations) >= 9, operations
    for method, path in operations:
        body = {} if method in ("POST", "PUT", "PATCH") else None
        anonymous = await client.request(method, filled(path), json=body)
        assert_error(anonymous, 401, "not_authenticated")
        user = await client.request(method, filled(path), json=body, headers=auth_headers)
        assert_error(user, 403, "forbidden")
        documented = spec["paths"][path][method.lower()]["responses"]
        assert {"401", "403"} <= set(documented), (method, path)


class TestUserList:
    async def test_paging(self, client: httpx.AsyncClient, admin: dict[str, str]) -> None:
        for i in range(7):
            await sign_up(client, f"user{i}")
        first = await client.get("/admin/users?page=1&page_size=3", headers=admin)
        assert first.status_code == 200, first.text
        body = first.json()
        assert (body["total"], body["page"], body["page_size"]) == (8, 1, 3)
        assert len(body["items"]) == 3
        pages = [
            (await client.get(f"/admin/users?page={p}&page_size=3", headers=admin)).json()
            for p in (1, 2, 3, 4)
        ]
        names = [item["username"] for page in pages for item in page["items"]]
        assert sorted(names) == sorted(["alice", *(f"user{i}" for i in range(7))])
        assert pages[3]["items"] == []
        # newest first by default
        assert names[0] == "user6"

    @pytest.mark.parametrize("query", ["page=0", "page_size=0", "page_size=101", "page=x"])
    async def test_bad_paging_is_422(
        self, client: httpx.AsyncClient, admin: dict[str, str], query: str
    ) -> None:
        assert_error(await client.get(f"/admin/users?{query}", headers=admin), 422, "invalid_input")

    async def test_search_by_prefix_is_not_a_pattern(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        for name in ("eric", "erica", "er.c", "edd", "bob"):
            await sign_up(client, name)

        async def search(q: str) -> list[str]:
            response = await client.get(
                "/admin/users", params={"q": q, "sort": "username"}, headers=admin
            )
            assert response.status_code == 200, response.text
            return [item["username"] for item in response.json()["items"]]

        assert await search("er") == ["er.c", "eric", "erica"]
        assert await search("er.") == ["er.c"]  # the dot is a dot, not "any character"
        assert await search("eric") == ["eric", "erica"]
        assert await search("zz") == []
        assert_error(
            await client.get("/admin/users", params={"q": ".*"}, headers=admin),
            422,
            "invalid_input",
        )
        assert_error(
            await client.get("/admin/users", params={"q": "e$|b"}, headers=admin),
            422,
            "invalid_input",
        )

    async def test_filters_and_sorts(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        eric = await sign_up(client, "eric")
        await sign_up(client, "mallory")
        await sign_up(client, "bob")
        await client.post("/llm/message", json={"message": "hi"}, headers=eric)
        await client.patch("/admin/users/mallory", json={"disabled": True}, headers=admin)

        async def names(**params: Any) -> list[str]:
            response = await client.get("/admin/users", params=params, headers=admin)
            assert response.status_code == 200, response.text
            return [item["username"] for item in response.json()["items"]]

        assert await names(role="admin") == ["alice"]
        assert sorted(await names(role="user")) == ["bob", "eric", "mallory"]
        assert await names(disabled="true") == ["mallory"]
        assert sorted(await names(disabled="false")) == ["alice", "bob", "eric"]
        assert await names(sort="created_at") == ["alice", "eric", "mallory", "bob"]
        assert await names(sort="-created_at") == ["bob", "mallory", "eric", "alice"]
        assert (await names(sort="-last_active_at"))[0] == "eric"
        assert (await names(sort="last_active_at"))[-1] == "eric"
        listed = (await client.get("/admin/users?q=eric", headers=admin)).json()["items"][0]
        assert listed["last_active_at"] is not None
        assert_error(
            await client.get("/admin/users?sort=password", headers=admin), 422, "invalid_input"
        )


class TestOneUser:
    async def test_figures(self, client: httpx.AsyncClient, admin: dict[str, str]) -> None:
        eric = await sign_up(client, "eric")
        for text in ("hi", "hello"):
            await client.post("/llm/message", json={"message": text}, headers=eric)
        response = await client.get("/admin/users/eric", headers=admin)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["username"] == "eric"
        assert body["figures"]["messages_today"] == 2
        assert body["figures"]["messages_total"] == 2
        assert body["figures"]["replies_total"] == 2
        assert body["figures"]["tokens"]["total"] > 0
        assert body["figures"]["last_activity"] is not None
        assert body["limits"]["daily_limit"] == 20
        assert body["limits"]["daily_override"] is None
        assert body["limits"]["remaining_today"] == 18
        assert_error(await client.get("/admin/users/nobody", headers=admin), 404, "not_found")

    async def test_create_a_user_and_an_admin(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        created = await client.post(
            "/admin/users",
            json={"username": "carol", "password": "carol's password", "email": "c@example.com"},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        assert (created.json()["role"], created.json()["email"]) == ("user", "c@example.com")
        assert (await log_in(client, "carol", "carol's password"))["Authorization"]
        boss = await client.post(
            "/admin/users",
            json={"username": "dave", "password": "dave's password", "role": "admin"},
            headers=admin,
        )
        assert (boss.json()["role"], boss.json()["level"]) == ("admin", 2)
        taken = await client.post(
            "/admin/users", json={"username": "carol", "password": "whatever123"}, headers=admin
        )
        assert_error(taken, 409, "username_taken")
        bad = await client.post(
            "/admin/users", json={"username": "x", "password": "short"}, headers=admin
        )
        assert_error(bad, 422, "invalid_input")

    async def test_modify(self, client: httpx.AsyncClient, admin: dict[str, str]) -> None:
        eric = await sign_up(client, "eric")
        old_refresh = (
            await client.post("/token", data={"username": "eric", "password": "password123"})
        ).json()["refresh_token"]
        response = await client.patch(
            "/admin/users/eric",
            json={
                "password": "reset by alice",
                "email": "eric@example.com",
                "display_name": "Eric",
                "daily_limit": 2,
                "burst_limit": 10,
            },
            headers=admin,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["email"], body["display_name"]) == ("eric@example.com", "Eric")
        assert (body["limits"]["daily_limit"], body["limits"]["daily_override"]) == (2, 2)
        assert (body["limits"]["burst_limit"], body["limits"]["burst_override"]) == (10, 10)
        # the password reset revoked eric's refresh tokens; the new password works
        stale = await client.post("/token/refresh", json={"refresh_token": old_refresh})
        assert_error(stale, 401, "invalid_refresh_token")
        # and so every access token from before: the old one is refused at once
        revoked = await client.post("/llm/message", json={"message": "m"}, headers=eric)
        assert_error(revoked, 401, "not_authenticated")
        assert (await client.get("/user/status", headers=eric)).status_code == 401
        eric = await log_in(client, "eric", "reset by alice")
        # the lowered daily limit holds
        statuses = [
            (await client.post("/llm/message", json={"message": f"m{i}"}, headers=eric)).status_code
            for i in range(4)
        ]
        assert statuses == [200, 200, 401, 401]
        status = (await client.get("/user/status", headers=eric)).json()
        assert (status["daily_limit"], status["remaining"]) == (2, 0)
        # null: the configured limits apply again
        cleared = await client.patch("/admin/users/eric", json={"daily_limit": None}, headers=admin)
        assert cleared.json()["limits"]["daily_override"] is None
        assert cleared.json()["limits"]["daily_limit"] == 20
        assert cleared.json()["limits"]["burst_override"] == 10
        assert (
            await client.post("/llm/message", json={"message": "x"}, headers=eric)
        ).status_code == 200

    @pytest.mark.parametrize(
        "body",
        [
            {"daily_limit": -1},
            {"burst_limit": 0},
            {"burst_limit": 101},
            {"email": "nope"},
            {"password": "short"},
            {"role": "superuser"},
            {"level": 2},
        ],
    )
    async def test_bad_changes_are_422_and_change_nothing(
        self, client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]
    ) -> None:
        await sign_up(client, "eric")
        before = (await client.get("/admin/users/eric", headers=admin)).json()
        combined = {"display_name": "Changed", **body}
        response = await client.patch("/admin/users/eric", json=combined, headers=admin)
        assert_error(response, 422, "invalid_input")
        assert (await client.get("/admin/users/eric", headers=admin)).json() == before

    async def test_delete_a_user_with_their_data(
        self, client: httpx.AsyncClient, admin: dict[str, str], settings: Settings
    ) -> None:
        from tests.accounts.test_profile import give_eric_some_data, owned

        eric = await sign_up(client, "eric")
        user_id = await give_eric_some_data(client, eric)
        response = await client.delete("/admin/users/eric", headers=admin)
        assert response.status_code == 204
        assert set(owned(settings, user_id, "eric").values()) == {0}
        assert_error(await client.delete("/admin/users/eric", headers=admin), 404, "not_found")
        assert_error(await client.get("/user/me", headers=eric), 401, "not_authenticated")


class TestAdmins:
    async def test_promote_list_demote(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        eric = await sign_up(client, "eric")
        assert_error(await client.get("/admin/users", headers=eric), 403, "forbidden")
        promoted = await client.put("/admin/admins/eric", headers=admin)
        assert (promoted.json()["role"], promoted.json()["level"]) == ("admin", 2)
        # a role change ends every session from before: eric logs in again as an admin
        assert_error(await client.get("/admin/users", headers=eric), 401, "not_authenticated")
        eric = await log_in(client, "eric")
        assert (await client.get("/admin/users", headers=eric)).status_code == 200
        me = (await client.get("/user/me", headers=eric)).json()
        assert (me["role"], me["level"]) == ("admin", 2)
        listed = (await client.get("/admin/admins", headers=admin)).json()
        assert [item["username"] for item in listed["items"]] == ["alice", "eric"]
        assert listed["total"] == 2
        demoted = await client.delete("/admin/admins/eric", headers=admin)
        assert demoted.json()["role"] == "user"
        # at once: the admin's token from before is refused everywhere, on every worker
        assert_error(await client.get("/admin/users", headers=eric), 401, "not_authenticated")
        eric = await log_in(client, "eric")
        assert_error(await client.get("/admin/users", headers=eric), 403, "forbidden")
        assert_error(await client.put("/admin/admins/nobody", headers=admin), 404, "not_found")

    async def test_the_last_admin_is_never_demoted_disabled_or_deleted(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        assert_error(await client.delete("/admin/admins/alice", headers=admin), 409, "last_admin")
        assert_error(
            await client.patch("/admin/users/alice", json={"role": "user"}, headers=admin),
            409,
            "last_admin",
        )
        assert_error(await client.delete("/admin/users/alice", headers=admin), 409, "last_admin")
        disable = await client.patch("/admin/users/alice", json={"disabled": True}, headers=admin)
        assert_error(disable, 409, "conflict")
        me = (await client.get("/user/me", headers=admin)).json()
        assert me["role"] == "admin"
        # with a second admin, alice may step down
        await sign_up(client, "bob")
        await client.put("/admin/admins/bob", headers=admin)
        assert (await client.delete("/admin/admins/alice", headers=admin)).json()["role"] == "user"
        assert_error(await client.get("/admin/users", headers=admin), 401, "not_authenticated")

    async def test_a_disabled_user_cannot_be_promoted(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        await sign_up(client, "eric")
        await client.patch("/admin/users/eric", json={"disabled": True}, headers=admin)
        assert_error(await client.put("/admin/admins/eric", headers=admin), 409, "conflict")
        both = await client.patch(
            "/admin/users/eric", json={"disabled": False, "role": "admin"}, headers=admin
        )
        assert (both.json()["role"], both.json()["disabled"]) == ("admin", False)


async def test_the_audit_log_records_every_admin_action(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await sign_up(client, "eric")
    await client.post(
        "/admin/users", json={"username": "carol", "password": "carol's password"}, headers=admin
    )
    await client.patch(
        "/admin/users/eric",
        json={"disabled": True, "password": "secret reset value", "daily_limit": 3},
        headers=admin,
    )
    await client.put("/admin/admins/carol", headers=admin)
    await client.delete("/admin/admins/carol", headers=admin)
    await client.delete("/admin/users/carol", headers=admin)
    response = await client.get("/admin/audit?page_size=10", headers=admin)
    assert response.status_code == 200, response.text
    log = response.json()
    assert log["total"] == 5
    actions = [(e["action"], e["target"]) for e in log["items"]]
    assert actions == [
        ("user.delete", "carol"),
        ("admin.demote", "carol"),
        ("admin.promote", "carol"),
        ("user.update", "eric"),
        ("user.create", "carol"),
    ]
    update = log["items"][3]
    assert update["actor"] == "alice"
    assert update["ip"] == "127.0.0.1"
    assert update["at"]
    assert update["details"] == {"daily_limit": 3, "disabled": True, "password": "(reset)"}
    assert "secret reset value" not in response.text
    page_two = (await client.get("/admin/audit?page=2&page_size=2", headers=admin)).json()
    assert [e["action"] for e in page_two["items"]] == ["admin.promote", "user.update"]
