"""Revocation that takes effect at once: a password change, an admin's reset, a disable, a role
change and "log out everywhere" refuse every access token issued before, on the routes that
read the user and on the chat path (whose admission update compares the token's epoch), with
no extra round trip. Across workers: tests/accounts/test_workers.py."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from simplechat.config import Settings
from tests.accounts.test_router import assert_error
from tests.accounts.test_tokens import PASSWORD, bearer, refresh, tokens
from tests.factories import TEST_JWT_SECRET, sign_up_admin

NEW_PASSWORD = "a brand new password"
COMPLETION = {"messages": [{"role": "user", "content": "hi"}]}


async def refused_everywhere(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Every kind of user lookup refuses the token: the profile read, the chat admission (both
    its first read and its cached claim), the model list, media, tasks and conversations."""
    for response in (
        await client.get("/user/me", headers=headers),
        await client.post("/llm/message", json={"message": "hi"}, headers=headers),
        await client.post("/v1/chat/completions", json=COMPLETION, headers=headers),
        await client.get("/v1/models", headers=headers),
        await client.get("/media/quota", headers=headers),
        await client.get("/tasks", headers=headers),
        await client.get("/conversations", headers=headers),
        await client.get("/user/history/1", headers=headers),
    ):
        assert response.status_code == 401, (response.request.url, response.text)
        body = response.json()
        code = body["error"]["code"] if isinstance(body["error"], dict) else body["code"]
        assert code == "not_authenticated", body  # OpenAI's shape under /v1


async def change_password(client: httpx.AsyncClient, pair: dict[str, Any], **extra: Any) -> Any:
    response = await client.post(
        "/user/me/password",
        json={"old_password": PASSWORD, "new_password": NEW_PASSWORD, **extra},
        headers=bearer(pair),
    )
    assert response.status_code == 200, response.text
    return response.json()


class TestPasswordChange:
    async def test_every_access_token_from_before_stops_working_at_once(
        self, client: httpx.AsyncClient
    ) -> None:
        phone = await tokens(client)
        laptop = (
            await client.post("/token", data={"username": "eric", "password": PASSWORD})
        ).json()
        # the admission has seen eric (its state is cached): the claim itself must refuse
        sent = await client.post("/llm/message", json={"message": "hi"}, headers=bearer(laptop))
        assert sent.status_code == 200, sent.text
        fresh = await change_password(client, phone)
        for old in (phone, laptop):
            await refused_everywhere(client, bearer(old))
        for path in ("/user/me", "/v1/models"):
            assert (await client.get(path, headers=bearer(fresh))).status_code == 200
        ok = await client.post("/llm/message", json={"message": "hi"}, headers=bearer(fresh))
        assert ok.status_code == 200, ok.text
        # refreshing the new pair keeps the new epoch
        again = (await refresh(client, fresh["refresh_token"])).json()
        assert (await client.get("/user/me", headers=bearer(again))).status_code == 200

    async def test_personal_keys_survive_unless_revoke_keys(
        self, client: httpx.AsyncClient
    ) -> None:
        pair = await tokens(client)
        made = await client.post("/user/keys", json={"name": "frontend"}, headers=bearer(pair))
        key = {"Authorization": f"Bearer {made.json()['key']}"}
        fresh = await change_password(client, pair)
        assert (await client.get("/v1/models", headers=key)).status_code == 200
        pair = {**fresh}
        response = await client.post(
            "/user/me/password",
            json={"old_password": NEW_PASSWORD, "new_password": PASSWORD, "revoke_keys": True},
            headers=bearer(pair),
        )
        assert response.status_code == 200, response.text
        assert_error(await client.get("/media/quota", headers=key), 401, "invalid_api_key")
        listed = await client.get("/user/keys", headers=bearer(response.json()))
        assert listed.json() == []


class TestAdminChanges:
    @pytest.mark.parametrize(
        "change",
        [{"password": "reset by alice"}, {"disabled": True}, {"role": "admin"}],
        ids=["reset", "disable", "promote"],
    )
    async def test_an_admins_change_revokes_the_users_tokens(
        self, client: httpx.AsyncClient, settings: Settings, change: dict[str, Any]
    ) -> None:
        admin = await sign_up_admin(client, settings, "alice")
        pair = await tokens(client, "eric")
        sent = await client.post("/llm/message", json={"message": "hi"}, headers=bearer(pair))
        assert sent.status_code == 200
        changed = await client.patch("/admin/users/eric", json=change, headers=admin)
        assert changed.status_code == 200, changed.text
        await refused_everywhere(client, bearer(pair))
        assert_error(await refresh(client, pair["refresh_token"]), 401, "invalid_refresh_token")

    async def test_a_demoted_admins_token_is_refused(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        alice = await sign_up_admin(client, settings, "alice")
        bob = await sign_up_admin(client, settings, "bob")
        demoted = await client.delete("/admin/admins/bob", headers=alice)
        assert demoted.status_code == 200
        assert_error(await client.get("/admin/users", headers=bob), 401, "not_authenticated")


class TestLogOutEverywhere:
    async def test_with_the_access_token(self, client: httpx.AsyncClient) -> None:
        phone = await tokens(client)
        laptop = (
            await client.post("/token", data={"username": "eric", "password": PASSWORD})
        ).json()
        out = await client.post("/user/me/logout-everywhere", headers=bearer(phone))
        assert out.status_code == 204, out.text
        for pair in (phone, laptop):
            await refused_everywhere(client, bearer(pair))
            assert_error(await refresh(client, pair["refresh_token"]), 401, "invalid_refresh_token")
        again = await client.post("/token", data={"username": "eric", "password": PASSWORD})
        assert (await client.get("/user/me", headers=bearer(again.json()))).status_code == 200

    async def test_with_a_refresh_token(self, client: httpx.AsyncClient) -> None:
        phone = await tokens(client)
        laptop = (
            await client.post("/token", data={"username": "eric", "password": PASSWORD})
        ).json()
        out = await client.post(
            "/token/revoke", json={"refresh_token": laptop["refresh_token"], "everywhere": True}
        )
        assert out.status_code == 204
        await refused_everywhere(client, bearer(phone))
        assert_error(await refresh(client, phone["refresh_token"]), 401, "invalid_refresh_token")

    async def test_a_plain_logout_ends_only_its_login(self, client: httpx.AsyncClient) -> None:
        phone = await tokens(client)
        laptop = (
            await client.post("/token", data={"username": "eric", "password": PASSWORD})
        ).json()
        out = await client.post("/token/revoke", json={"refresh_token": laptop["refresh_token"]})
        assert out.status_code == 204
        assert_error(await refresh(client, laptop["refresh_token"]), 401, "invalid_refresh_token")
        assert (await refresh(client, phone["refresh_token"])).status_code == 200

    async def test_an_unknown_or_used_refresh_token_logs_nobody_out(
        self, client: httpx.AsyncClient
    ) -> None:
        pair = await tokens(client)
        rotated = (await refresh(client, pair["refresh_token"])).json()
        for token in ("not-a-token", pair["refresh_token"]):
            out = await client.post(
                "/token/revoke", json={"refresh_token": token, "everywhere": True}
            )
            assert out.status_code == 204
        assert (await client.get("/user/me", headers=bearer(rotated))).status_code == 200


class TestTokensWithoutAnEpoch:
    async def test_count_as_epoch_zero(self, client: httpx.AsyncClient) -> None:
        """Access tokens issued before epochs were carried work until the epoch moves on."""
        pair = await tokens(client)
        claims = jwt.decode(pair["access_token"], TEST_JWT_SECRET, algorithms=["HS256"])
        assert claims["ep"] == 0
        now = datetime.now(UTC)
        legacy = {k: v for k, v in claims.items() if k != "ep"}
        legacy.update(iat=now, exp=now + timedelta(hours=1))
        old = {"Authorization": f"Bearer {jwt.encode(legacy, TEST_JWT_SECRET)}"}
        assert (await client.get("/user/me", headers=old)).status_code == 200
        sent = await client.post("/llm/message", json={"message": "hi"}, headers=old)
        assert sent.status_code == 200, sent.text
        await change_password(client, pair)
        await refused_everywhere(client, old)

    @pytest.mark.parametrize("epoch", ["0", 1.5, True, None])
    async def test_an_epoch_that_is_no_integer_is_refused(
        self, client: httpx.AsyncClient, epoch: Any
    ) -> None:
        pair = await tokens(client)
        claims = jwt.decode(pair["access_token"], TEST_JWT_SECRET, algorithms=["HS256"])
        forged = {"Authorization": f"Bearer {jwt.encode({**claims, 'ep': epoch}, TEST_JWT_SECRET)}"}
        assert_error(await client.get("/user/me", headers=forged), 401, "not_authenticated")
