"""Security: one user can never read or change another's data through any endpoint, and every
kind of bad token is refused everywhere."""

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from simplechat.config import Settings
from tests.factories import TEST_JWT_SECRET, app_client, sign_up
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

ERIC_SECRET_TEXT = "my bank PIN is 4321, please remember it"
AUTHENTICATED = [
    ("GET", "/user/me", None),
    ("GET", "/user/status", None),
    ("GET", "/user/history/10", None),
    ("GET", "/user/report", None),
    ("GET", "/user/report.svg", None),
    ("GET", "/user/usage", None),
    ("POST", "/llm/message", {"message": "hello"}),
    ("POST", "/llm/message/advanced", {"message": "hello"}),
    ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hello"}]}),
    ("GET", "/v1/models", None),
    ("GET", "/llm/models", None),
    ("GET", "/conversations", None),
    ("GET", "/presets", None),
]
# The caller's own account: refused with any bad token as well.
OWN_ACCOUNT = [
    ("PATCH", "/user/me", {"display_name": "Mallory"}),
    ("POST", "/user/me/password", {"old_password": "password123", "new_password": "x" * 12}),
    ("DELETE", "/user/me", {"password": "password123"}),
    ("GET", "/user/me/avatar", None),
    ("GET", "/admin/users", None),
]


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter() as fake:
        yield fake


@pytest.fixture
async def client(settings: Settings, upstream: FakeOpenRouter) -> AsyncIterator[httpx.AsyncClient]:
    values = settings.model_dump()
    values.update(openrouter_api_key=TEST_API_KEY, openrouter_base_url=upstream.base_url)
    async with app_client(Settings(_env_file=None, **values)) as http:  # type: ignore[call-arg]
        yield http


async def call(
    client: httpx.AsyncClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(method, path, json=body, headers=headers)


async def snapshot(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """Everything a user can see about themselves (minus the report's timestamps)."""
    report = (await client.get("/user/report", headers=headers)).json()
    report.pop("generated_at")
    status = (await client.get("/user/status", headers=headers)).json()
    return {
        "me": (await client.get("/user/me", headers=headers)).json(),
        "history": (await client.get("/user/history/100", headers=headers)).json(),
        "status": status,
        "report": report,
        "conversations": (await client.get("/conversations", headers=headers)).json(),
    }


async def test_a_second_user_can_never_read_or_affect_the_first(
    client: httpx.AsyncClient, upstream: FakeOpenRouter
) -> None:
    eric = await sign_up(client, "eric")
    for path in ("/llm/message", "/llm/message/advanced"):
        response = await client.post(path, json={"message": ERIC_SECRET_TEXT}, headers=eric)
        assert response.status_code == 200
    before = await snapshot(client, eric)

    mallory = await sign_up(client, "mallory")
    responses = [await call(client, m, p, b, mallory) for m, p, b in AUTHENTICATED]
    responses.append(await client.get("/user/history/10?owner_id=eric&user=eric", headers=mallory))
    responses.append(await client.get("/user/report?format=svg", headers=mallory))
    for response in responses:
        assert response.status_code == 200, response.text
        assert ERIC_SECRET_TEXT not in response.text
        assert before["me"]["id"] not in response.text
    # what mallory's chats sent upstream holds nothing of eric's
    for sent in upstream.requests[-3:]:
        assert ERIC_SECRET_TEXT not in json.dumps(sent.json)
    assert (await client.get("/user/me", headers=mallory)).json()["username"] == "mallory"

    # eric's account is untouched: the same data, the same counts, the same password
    assert await snapshot(client, eric) == before
    taken = await client.post("/user/", json={"username": "eric", "password": "other-password"})
    assert taken.status_code == 409
    wrong = await client.post("/token", data={"username": "eric", "password": "other-password"})
    assert wrong.status_code == 401
    right = await client.post("/token", data={"username": "eric", "password": "password123"})
    assert right.status_code == 200


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged_tokens(user_id: str, valid: str) -> dict[str, str]:
    now = datetime.now(UTC)
    # well-formed access-token claims: each forgery is refused for its own reason
    claims = {
        "sub": user_id,
        "name": "eric",
        "typ": "access",
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    header, payload, signature = valid.split(".")
    other_payload = json.loads(base64.urlsafe_b64decode(payload + "=="))
    other_payload["sub"] = str(ObjectId())
    return {
        "alg none": _b64({"alg": "none", "typ": "JWT"})
        + "."
        + _b64(
            {
                **claims,
                "iat": int(now.timestamp()),
                "exp": int((now + timedelta(hours=1)).timestamp()),
            }
        )
        + ".",
        "wrong key": jwt.encode(claims, "not-the-server-secret-" + "y" * 30, algorithm="HS256"),
        "other algorithm, right key": jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS384"),
        "expired": jwt.encode(
            {**claims, "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)},
            TEST_JWT_SECRET,
            algorithm="HS256",
        ),
        "no expiry": jwt.encode(
            {"sub": user_id, "typ": "access", "iat": now}, TEST_JWT_SECRET, algorithm="HS256"
        ),
        "tampered payload": f"{header}.{_b64(other_payload)}.{signature}",
        "garbage": "not-a-token",
        "empty": "",
    }


async def test_bad_tokens_are_refused_everywhere(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    valid_headers = await sign_up(client, "eric")
    valid = valid_headers["Authorization"].removeprefix("Bearer ")
    user_id = (await client.get("/user/me", headers=valid_headers)).json()["id"]
    for name, token in forged_tokens(user_id, valid).items():
        headers = {"Authorization": f"Bearer {token}"}
        for method, path, body in AUTHENTICATED + OWN_ACCOUNT:
            response = await call(client, method, path, body, headers)
            assert response.status_code == 401, (name, path, response.text)
    # nothing those requests sent was stored, counted or changed
    assert (await client.get("/user/history/10", headers=valid_headers)).json() == []
    assert (await client.get("/user/me", headers=valid_headers)).json()["display_name"] is None
    assert (await client.get("/user/status", headers=valid_headers)).json()["chat_cnt"] == 0


@pytest.mark.parametrize("change", ["deleted", "disabled"])
async def test_token_of_a_deleted_or_disabled_user_is_refused(
    client: httpx.AsyncClient, settings: Settings, change: str
) -> None:
    headers = await sign_up(client, "eric")
    assert (await client.get("/user/me", headers=headers)).status_code == 200
    assert settings.mongodb_uri is not None
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        users = mongo[settings.mongodb_db].users
        if change == "deleted":
            await users.delete_one({"username": "eric"})
        else:
            await users.update_one({"username": "eric"}, {"$set": {"disabled": True}})
    finally:
        await mongo.close()
    for method, path, body in AUTHENTICATED:
        response = await call(client, method, path, body, headers)
        assert response.status_code == 401, (path, response.text)
    login = await client.post("/token", data={"username": "eric", "password": "password123"})
    assert login.status_code == 401
