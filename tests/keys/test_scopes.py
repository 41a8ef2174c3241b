"""What a personal API key may reach: the model routes and reading its own usage, never what
manages the account or the server (403 key_not_allowed, whoever owns the key); and an admin's
disable of a key that its owner cannot undo."""

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from simplechat.config import Settings
from tests.factories import app_client, sign_up, sign_up_admin
from tests.keys.test_router import COMPLETION, bearer, new_key, with_limits

# Every operation a key may call (method, path template); every other one that takes a Bearer
# token answers a key with 403 key_not_allowed. Anonymous routes (sign up, log in, /healthz,
# anyone's avatar) take no token at all.
KEY_ROUTES = {
    ("POST", "/llm/message"),
    ("POST", "/llm/message/advanced"),
    ("GET", "/llm/models"),
    ("GET", "/user/history/{last_n}"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/embeddings"),
    ("GET", "/v1/models"),
    ("POST", "/v1/audio/transcriptions"),
    ("POST", "/conversations"),
    ("GET", "/conversations"),
    ("GET", "/conversations/{conversation_id}"),
    ("PATCH", "/conversations/{conversation_id}"),
    ("DELETE", "/conversations/{conversation_id}"),
    ("GET", "/conversations/{conversation_id}/messages"),
    ("GET", "/conversations/{conversation_id}/export"),
    ("POST", "/conversations/{conversation_id}/regenerate"),
    ("POST", "/conversations/{conversation_id}/tasks"),
    ("GET", "/tasks"),
    ("GET", "/tasks/{task_id}"),
    ("POST", "/tasks/{task_id}/cancel"),
    ("GET", "/tasks/{task_id}/stream"),
    ("GET", "/presets"),  # read only: a conversation may start from one
    ("GET", "/presets/{preset_id}"),
    ("POST", "/media/speech"),
    ("POST", "/media/ocr"),
    ("GET", "/media/quota"),
    ("GET", "/user/status"),  # its own usage
    ("GET", "/user/report"),
    ("GET", "/user/report.svg"),
    ("GET", "/user/credits"),
    ("GET", "/user/usage"),
}
ANONYMOUS = {
    ("POST", "/user/"),
    ("POST", "/token"),
    ("POST", "/token/refresh"),
    ("POST", "/token/revoke"),
    ("POST", "/token/wechat"),
    ("GET", "/users/{username}/avatar"),
    ("GET", "/healthz"),
}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with room under the user's own limits (every model route is called)."""
    async with app_client(with_limits(settings, burst_limit=50)) as http:
        yield http


async def operations(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    schema = (await client.get("/openapi.json")).json()
    return [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def concrete(path: str) -> str:
    """A path template with every parameter filled by something of the right shape."""
    return re.sub(r"\{[^}]+\}", "6b01b59ab1945f3903016ee2", path).replace(
        "/user/history/6b01b59ab1945f3903016ee2", "/user/history/1"
    )


async def call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    body: dict[str, Any] | None = {} if method in {"POST", "PUT", "PATCH", "DELETE"} else None
    return await client.request(method, concrete(path), json=body, headers=headers)


class TestWhatAKeyReaches:
    async def test_every_route_that_manages_the_account_or_the_server_refuses_a_key(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        """An admin's own key: the admin area is as closed to it as the account routes."""
        admin = await sign_up_admin(client, settings, "root")
        key = bearer(await new_key(client, admin))
        found = await operations(client)
        refused = [op for op in found if op not in KEY_ROUTES | ANONYMOUS]
        assert ("PATCH", "/user/keys/{key_id}") in refused
        assert ("GET", "/admin/users") in refused
        assert len(refused) >= 30, refused
        for method, path in refused:
            response = await call(client, method, path, key)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["code"] == "key_not_allowed", (method, path)
            # the admin's access token is let through (whatever the dummy ids then give)
            assert (await call(client, method, path, admin)).status_code != 403, (method, path)
        assert {op for op in KEY_ROUTES | ANONYMOUS if op not in found} == set()

    async def test_the_routes_a_key_is_for_take_it(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        key = bearer(await new_key(client, auth_headers))
        for method, path in sorted(KEY_ROUTES):
            response = await call(client, method, path, key)
            assert response.status_code not in (401, 403), (method, path, response.text)

    async def test_a_capped_key_cannot_lift_its_cap_or_make_another_key(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        """The issue's first attack, refused step by step."""
        created = await new_key(client, auth_headers, daily_limit=3)
        key = bearer(created)
        lifted = await client.patch(
            f"/user/keys/{created['id']}", json={"daily_limit": None}, headers=key
        )
        assert lifted.status_code == 403, lifted.text
        assert lifted.json()["code"] == "key_not_allowed"
        escalated = await client.post("/user/keys", json={"name": "escalated"}, headers=key)
        assert escalated.status_code == 403
        password = await client.post(
            "/user/me/password", json={"new_password": "taken-over-1"}, headers=key
        )
        assert password.status_code == 403
        deleted = await client.request(
            "DELETE", "/user/me", json={"password": "password123"}, headers=key
        )
        assert deleted.status_code == 403
        keys = (await client.get("/user/keys", headers=auth_headers)).json()
        assert [k["daily_limit"] for k in keys] == [3]
        # and it still does what it is for
        sent = await client.post("/v1/chat/completions", json=COMPLETION, headers=key)
        assert sent.status_code == 200, sent.text

    async def test_the_refusal_reads_clearly_in_both_shapes(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        key = bearer(await new_key(client, auth_headers))
        refused = await client.get("/user/me", headers=key)
        body = refused.json()
        assert body["error"] == "KeyNotAllowed"
        assert "access token" in body["detail"]


class TestAdminDisabledKeys:
    async def test_an_owner_cannot_enable_a_key_an_admin_disabled(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        admin = await sign_up_admin(client, settings, "root")
        eric = await sign_up(client, "eric")
        key = await new_key(client, eric)
        disabled = await client.patch(
            f"/admin/keys/{key['id']}", json={"enabled": False}, headers=admin
        )
        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["disabled_by_admin"] is True
        again = await client.patch(f"/user/keys/{key['id']}", json={"enabled": True}, headers=eric)
        assert again.status_code == 403, again.text
        assert again.json()["code"] == "key_locked"
        refused = await client.post("/v1/chat/completions", json=COMPLETION, headers=bearer(key))
        assert refused.status_code == 401
        # the owner may still rename it, or disable it again (which changes nothing)
        renamed = await client.patch(f"/user/keys/{key['id']}", json={"name": "x"}, headers=eric)
        assert renamed.json()["name"] == "x"
        assert renamed.json()["enabled"] is False
        assert renamed.json()["disabled_by_admin"] is True
        enabled = await client.patch(
            f"/admin/keys/{key['id']}", json={"enabled": True}, headers=admin
        )
        assert enabled.json()["disabled_by_admin"] is False
        ok = await client.post("/v1/chat/completions", json=COMPLETION, headers=bearer(key))
        assert ok.status_code == 200, ok.text

    async def test_an_owner_enables_a_key_they_disabled_themselves(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        key = await new_key(client, auth_headers)
        path = f"/user/keys/{key['id']}"
        off = await client.patch(path, json={"enabled": False}, headers=auth_headers)
        assert off.json()["disabled_by_admin"] is False
        on = await client.patch(path, json={"enabled": True}, headers=auth_headers)
        assert on.status_code == 200
        assert on.json()["enabled"] is True

    @pytest.mark.parametrize("missing", ["6b01b59ab1945f3903016ee2", "nope"])
    async def test_enabling_a_missing_key_is_still_404(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str], missing: str
    ) -> None:
        response = await client.patch(
            f"/user/keys/{missing}", json={"enabled": True}, headers=auth_headers
        )
        assert response.status_code == 404
