"""Access and refresh tokens through the ASGI app: rotation, reuse, logout, type confusion,
password changes and disabled accounts."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from pymongo import MongoClient

from simplechat.config import Settings
from tests.accounts.test_router import assert_error
from tests.factories import TEST_JWT_SECRET, sign_up_admin

PASSWORD = "password123"


async def tokens(client: httpx.AsyncClient, username: str = "eric") -> dict[str, Any]:
    await client.post("/user/", json={"username": username, "password": PASSWORD})
    response = await client.post("/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/token/refresh", json={"refresh_token": token})


class TestLogin:
    async def test_login_gives_an_access_and_a_refresh_token(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        pair = await tokens(client)
        assert set(pair) == {"access_token", "token_type", "expires_in", "refresh_token"}
        assert pair["token_type"] == "bearer"
        assert pair["expires_in"] == settings.jwt_expire_minutes * 60
        claims = jwt.decode(pair["access_token"], TEST_JWT_SECRET, algorithms=["HS256"])
        assert claims["typ"] == "access"
        assert claims["exp"] - claims["iat"] == pair["expires_in"]
        assert len(pair["refresh_token"]) >= 43  # 256 random bits, url-safe base64

    async def test_only_a_hash_of_the_refresh_token_is_stored(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        pair = await tokens(client)
        assert settings.mongodb_uri is not None
        mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri.get_secret_value())
        try:
            docs = list(mongo[settings.mongodb_db].refresh_tokens.find({}))
        finally:
            mongo.close()
        assert len(docs) == 1
        assert pair["refresh_token"] not in str(docs)
        assert len(docs[0]["token_hash"]) == 64


class TestRefresh:
    async def test_refresh_rotates_and_the_old_token_stops_working(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await tokens(client)
        response = await refresh(client, first["refresh_token"])
        assert response.status_code == 200, response.text
        second = response.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert (await client.get("/user/me", headers=bearer(second))).status_code == 200
        again = await refresh(client, first["refresh_token"])
        assert_error(again, 401, "invalid_refresh_token")

    async def test_reusing_a_rotated_token_revokes_the_whole_family(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await tokens(client)
        second = (await refresh(client, first["refresh_token"])).json()
        third = (await refresh(client, second["refresh_token"])).json()
        # a thief replays the first token: the family is burnt, the current token included
        assert_error(await refresh(client, first["refresh_token"]), 401, "invalid_refresh_token")
        assert_error(await refresh(client, third["refresh_token"]), 401, "invalid_refresh_token")

    async def test_another_login_is_another_family(self, client: httpx.AsyncClient) -> None:
        phone = await tokens(client)
        laptop = (
            await client.post("/token", data={"username": "eric", "password": PASSWORD})
        ).json()
        await refresh(client, phone["refresh_token"])
        await refresh(client, phone["refresh_token"])  # reuse: the phone's family is revoked
        assert (await refresh(client, laptop["refresh_token"])).status_code == 200

    async def test_parallel_refreshes_with_one_token_have_one_winner(
        self, client: httpx.AsyncClient
    ) -> None:
        pair = await tokens(client)
        responses = await asyncio.gather(
            *(refresh(client, pair["refresh_token"]) for _ in range(8))
        )
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == 1, statuses
        assert statuses.count(401) == 7

    async def test_logout_revokes_the_family(self, client: httpx.AsyncClient) -> None:
        first = await tokens(client)
        second = (await refresh(client, first["refresh_token"])).json()
        response = await client.post(
            "/token/revoke", json={"refresh_token": second["refresh_token"]}
        )
        assert response.status_code == 204
        assert_error(await refresh(client, second["refresh_token"]), 401, "invalid_refresh_token")
        # revoking an unknown or already revoked token is not an error
        again = await client.post("/token/revoke", json={"refresh_token": "nonsense"})
        assert again.status_code == 204

    async def test_expired_refresh_token_is_refused(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        pair = await tokens(client)
        assert settings.mongodb_uri is not None
        mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri.get_secret_value())
        try:
            # replace the document with one that expired (dates are only ever inserted)
            collection = mongo[settings.mongodb_db].refresh_tokens
            doc = collection.find_one({})
            assert doc is not None
            collection.delete_one({"_id": doc["_id"]})
            collection.insert_one({**doc, "expires_at": datetime.now(UTC) - timedelta(seconds=1)})
        finally:
            mongo.close()
        assert_error(await refresh(client, pair["refresh_token"]), 401, "invalid_refresh_token")

    async def test_garbage_is_401_and_empty_is_422(self, client: httpx.AsyncClient) -> None:
        assert_error(await refresh(client, "x" * 40), 401, "invalid_refresh_token")
        assert_error(await refresh(client, ""), 422, "invalid_input")


class TestTokenTypes:
    async def test_a_refresh_token_is_not_an_access_token(self, client: httpx.AsyncClient) -> None:
        pair = await tokens(client)
        response = await client.get(
            "/user/me", headers={"Authorization": f"Bearer {pair['refresh_token']}"}
        )
        assert_error(response, 401, "not_authenticated")

    async def test_an_access_token_is_not_a_refresh_token(self, client: httpx.AsyncClient) -> None:
        pair = await tokens(client)
        assert_error(await refresh(client, pair["access_token"]), 401, "invalid_refresh_token")

    async def test_a_signed_token_of_another_type_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        pair = await tokens(client)
        claims = jwt.decode(pair["access_token"], TEST_JWT_SECRET, algorithms=["HS256"])
        for typ in ("refresh", "wechat", None):
            forged = (
                {**claims, "typ": typ} if typ else {k: v for k, v in claims.items() if k != "typ"}
            )
            token = jwt.encode(forged, TEST_JWT_SECRET, algorithm="HS256")
            response = await client.get("/user/me", headers={"Authorization": f"Bearer {token}"})
            assert_error(response, 401, "not_authenticated")
            chat = await client.post(
                "/llm/message", json={"message": "hi"}, headers={"Authorization": f"Bearer {token}"}
            )
            assert chat.status_code == 401, typ


class TestPasswordChange:
    async def test_changing_the_password_revokes_every_refresh_token(
        self, client: httpx.AsyncClient
    ) -> None:
        phone = await tokens(client)
        laptop = (
            await client.post("/token", data={"username": "eric", "password": PASSWORD})
        ).json()
        response = await client.post(
            "/user/me/password",
            json={"old_password": PASSWORD, "new_password": "a brand new password"},
            headers=bearer(phone),
        )
        assert response.status_code == 200, response.text
        fresh = response.json()
        for old in (phone, laptop):
            assert_error(await refresh(client, old["refresh_token"]), 401, "invalid_refresh_token")
        assert (await refresh(client, fresh["refresh_token"])).status_code == 200
        old_login = await client.post("/token", data={"username": "eric", "password": PASSWORD})
        assert_error(old_login, 401, "invalid_credentials")
        new_login = await client.post(
            "/token", data={"username": "eric", "password": "a brand new password"}
        )
        assert new_login.status_code == 200

    async def test_a_token_from_before_the_change_fails_even_if_it_escaped_revocation(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        """A refresh that raced a password change keeps its old epoch: refused at next use."""
        pair = await tokens(client)
        assert settings.mongodb_uri is not None
        mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri.get_secret_value())
        try:
            mongo[settings.mongodb_db].users.update_one(
                {"username": "eric"}, {"$inc": {"token_epoch": 1}}
            )
        finally:
            mongo.close()
        assert_error(await refresh(client, pair["refresh_token"]), 401, "invalid_refresh_token")

    async def test_the_old_password_must_be_right(self, client: httpx.AsyncClient) -> None:
        pair = await tokens(client)
        response = await client.post(
            "/user/me/password",
            json={"old_password": "not-my-password", "new_password": "a brand new password"},
            headers=bearer(pair),
        )
        assert_error(response, 401, "invalid_credentials")
        short = await client.post(
            "/user/me/password",
            json={"old_password": PASSWORD, "new_password": "short"},
            headers=bearer(pair),
        )
        assert_error(short, 422, "invalid_input")


class TestDisabledUser:
    async def test_a_disabled_user_is_refused_everywhere(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        admin = await sign_up_admin(client, settings, "alice")
        pair = await tokens(client, "eric")
        assert (
            await client.post("/llm/message", json={"message": "hi"}, headers=bearer(pair))
        ).status_code == 200
        disabled = await client.patch("/admin/users/eric", json={"disabled": True}, headers=admin)
        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["disabled"] is True
        for response in (
            await client.get("/user/me", headers=bearer(pair)),
            await client.get("/user/status", headers=bearer(pair)),
            await client.post("/llm/message", json={"message": "hi"}, headers=bearer(pair)),
            await client.post(
                "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": "hi"}]},
                headers=bearer(pair),
            ),
            await refresh(client, pair["refresh_token"]),
            await client.post("/token", data={"username": "eric", "password": PASSWORD}),
        ):
            assert response.status_code == 401, response.text
        enabled = await client.patch("/admin/users/eric", json={"disabled": False}, headers=admin)
        assert enabled.json()["disabled"] is False
        # enabled again: a new login works; the old refresh tokens stay revoked
        assert (
            await client.post("/token", data={"username": "eric", "password": PASSWORD})
        ).status_code == 200
        assert (await refresh(client, pair["refresh_token"])).status_code == 401
