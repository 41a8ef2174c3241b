"""Accounts and tokens through the ASGI app."""

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from tests.factories import TEST_JWT_SECRET, sign_up


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "code", "detail"}
    assert body["code"] == code
    assert "Traceback" not in response.text
    return body  # type: ignore[no-any-return]


class TestSignUp:
    async def test_creates_user_without_secret_fields(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/user/", json={"username": "eric", "password": "password123"})
        assert response.status_code == 201
        body = response.json()
        assert body["username"] == "eric"
        assert body["role"] == "user"
        assert "password" not in response.text
        assert "hash" not in response.text

    async def test_duplicate_username_is_409(self, client: httpx.AsyncClient) -> None:
        await client.post("/user/", json={"username": "eric", "password": "password123"})
        response = await client.post("/user/", json={"username": "eric", "password": "otherpass1"})
        body = assert_error(response, 409, "username_taken")
        assert "eric" in str(body["detail"])

    @pytest.mark.parametrize(
        ("username", "password"),
        [
            ("ab", "password123"),
            ("a" * 33, "password123"),
            ("bad name", "password123"),
            ("eric$", "password123"),
            ("eric", "short"),
        ],
    )
    async def test_invalid_username_or_password_is_422(
        self, client: httpx.AsyncClient, username: str, password: str
    ) -> None:
        response = await client.post("/user/", json={"username": username, "password": password})
        assert_error(response, 422, "invalid_input")

    async def test_allowed_username_characters(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/user/", json={"username": "a.b-c_9", "password": "password123"}
        )
        assert response.status_code == 201

    async def test_malformed_json_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/user/", content=b'{"username": ', headers={"content-type": "application/json"}
        )
        body = assert_error(response, 422, "invalid_input")
        assert "JSON" in str(body["detail"])

    async def test_unknown_fields_are_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/user/", json={"username": "eric", "password": "password123", "role": "admin"}
        )
        assert_error(response, 422, "invalid_input")

    async def test_oversize_body_is_413(self, client: httpx.AsyncClient) -> None:
        big = b'{"username": "' + b"x" * 1_100_000 + b'"}'
        response = await client.post(
            "/user/", content=big, headers={"content-type": "application/json"}
        )
        assert_error(response, 413, "payload_too_large")

    async def test_oversize_chunked_body_is_413(self, client: httpx.AsyncClient) -> None:
        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(20):
                yield b"x" * 100_000

        response = await client.post(
            "/user/", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_error(response, 413, "payload_too_large")


class TestToken:
    async def test_login_returns_bearer_token(self, client: httpx.AsyncClient) -> None:
        headers = await sign_up(client, "eric")
        assert headers["Authorization"].startswith("Bearer ")

    async def test_wrong_password_and_unknown_user_look_the_same(
        self, client: httpx.AsyncClient
    ) -> None:
        await sign_up(client, "eric")
        wrong = await client.post("/token", data={"username": "eric", "password": "nope-nope"})
        unknown = await client.post("/token", data={"username": "nobody", "password": "nope-nope"})
        assert_error(wrong, 401, "invalid_credentials")
        assert_error(unknown, 401, "invalid_credentials")
        assert wrong.json().keys() == unknown.json().keys()
        assert {**wrong.json(), "request_id": ""} == {**unknown.json(), "request_id": ""}
        assert wrong.headers["www-authenticate"] == "Bearer"

    async def test_missing_form_fields_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/token", data={"username": "eric"})
        assert_error(response, 422, "invalid_input")


class TestCurrentUser:
    async def test_me(self, client: httpx.AsyncClient, auth_headers: dict[str, str]) -> None:
        response = await client.get("/user/me", headers=auth_headers)
        assert response.status_code == 200
        assert response.json()["username"] == "eric"

    async def test_missing_token_is_401(self, client: httpx.AsyncClient) -> None:
        assert_error(await client.get("/user/me"), 401, "not_authenticated")

    async def test_tampered_token_is_401(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        token = auth_headers["Authorization"].removeprefix("Bearer ")
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["name"] = "admin"
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        response = await client.get(
            "/user/me", headers={"Authorization": f"Bearer {header}.{forged}.{signature}"}
        )
        assert_error(response, 401, "not_authenticated")

    async def test_alg_none_is_401(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        me = (await client.get("/user/me", headers=auth_headers)).json()
        now = datetime.now(UTC)
        token = jwt.encode(
            {"sub": me["id"], "iat": now, "exp": now + timedelta(hours=1)},
            key=None,
            algorithm="none",
        )
        assert_error(
            await client.get("/user/me", headers={"Authorization": f"Bearer {token}"}),
            401,
            "not_authenticated",
        )

    async def test_wrong_key_is_401(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        me = (await client.get("/user/me", headers=auth_headers)).json()
        now = datetime.now(UTC)
        token = jwt.encode(
            {"sub": me["id"], "iat": now, "exp": now + timedelta(hours=1)}, "other-key" * 5
        )
        assert_error(
            await client.get("/user/me", headers={"Authorization": f"Bearer {token}"}),
            401,
            "not_authenticated",
        )

    async def test_expired_token_is_401(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        me = (await client.get("/user/me", headers=auth_headers)).json()
        then = datetime.now(UTC) - timedelta(days=2)
        token = jwt.encode(
            {"sub": me["id"], "typ": "access", "iat": then, "exp": then + timedelta(days=1)},
            TEST_JWT_SECRET,
        )
        body = assert_error(
            await client.get("/user/me", headers={"Authorization": f"Bearer {token}"}),
            401,
            "not_authenticated",
        )
        assert "expired" in str(body["detail"])

    async def test_token_for_unknown_user_is_401(self, client: httpx.AsyncClient) -> None:
        now = datetime.now(UTC)
        token = jwt.encode(
            {"sub": "6b01b59ab1945f3903016ee2", "iat": now, "exp": now + timedelta(hours=1)},
            TEST_JWT_SECRET,
        )
        assert_error(
            await client.get("/user/me", headers={"Authorization": f"Bearer {token}"}),
            401,
            "not_authenticated",
        )


class TestErrorShape:
    async def test_unknown_route_is_404_json(self, client: httpx.AsyncClient) -> None:
        assert_error(await client.get("/nope"), 404, "not_found")

    async def test_wrong_method_is_405_json(self, client: httpx.AsyncClient) -> None:
        assert_error(await client.delete("/token"), 405, "method_not_allowed")


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_openapi_has_password_flow(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    flows = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "token"


async def test_created_at_reads_back_as_it_was_first_returned(client: httpx.AsyncClient) -> None:
    created = await client.post("/user/", json={"username": "ada", "password": "password123"})
    token = await client.post("/token", data={"username": "ada", "password": "password123"})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    me = await client.get("/user/me", headers=headers)
    assert me.json()["created_at"] == created.json()["created_at"]
