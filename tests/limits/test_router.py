"""Limits and status through the ASGI app."""

from typing import Any

import httpx

from simplechat.config import Settings
from tests.factories import app_client, sign_up

SEED = "hi, my name is Eric"


def with_settings(base: Settings, **overrides: Any) -> Settings:
    values = base.model_dump()
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def test_refused_message_is_not_stored_and_status_agrees(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    for i in range(3):
        assert (
            await client.post("/llm/message", json={"message": f"m{i}"}, headers=auth_headers)
        ).status_code == 200
    refused = await client.post(
        "/llm/message/advanced", json={"message": "one too many"}, headers=auth_headers
    )
    assert refused.status_code == 401
    body = refused.json()
    assert body["code"] == "burst_limit"
    assert body["limit"] == 3
    assert int(refused.headers["Retry-After"]) == body["retry_after"] >= 1
    history = (await client.get("/user/history/100", headers=auth_headers)).json()
    assert "one too many" not in [e["text"] for e in history]
    status = (await client.get("/user/status", headers=auth_headers)).json()
    assert status["username"] == "eric"
    assert status["chat_cnt"] == 3
    assert status["remaining"] == 17
    assert status["daily_limit"] == 20


async def test_rate_limit_status_429_option(settings: Settings) -> None:
    async with app_client(with_settings(settings, rate_limit_status=429, burst_limit=1)) as client:
        headers = await sign_up(client, "eric")
        await client.post("/llm/message", json={"message": SEED}, headers=headers)
        refused = await client.post("/llm/message", json={"message": SEED}, headers=headers)
        assert refused.status_code == 429
        assert refused.json()["code"] == "burst_limit"


async def test_daily_limit_refusal(settings: Settings) -> None:
    async with app_client(with_settings(settings, daily_limit=2, burst_limit=10)) as client:
        headers = await sign_up(client, "eric")
        for _ in range(2):
            assert (
                await client.post("/llm/message", json={"message": SEED}, headers=headers)
            ).status_code == 200
        refused = await client.post("/llm/message", json={"message": SEED}, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["code"] == "daily_limit"
        assert "resets_at" in refused.json()
        assert (await client.get("/user/status", headers=headers)).json()["remaining"] == 0


async def test_ip_limit_on_login_and_sign_up(settings: Settings) -> None:
    async with app_client(with_settings(settings, ip_limit="3/minute")) as client:
        statuses = []
        for i in range(4):
            response = await client.post(
                "/user/", json={"username": f"user{i}", "password": "password123"}
            )
            statuses.append(response.status_code)
        assert statuses == [201, 201, 201, 429]
        assert response.json()["code"] == "ip_limit"
        assert response.headers["Retry-After"]
        for _ in range(3):
            await client.post("/token", data={"username": "user0", "password": "wrong-password"})
        blocked = await client.post("/token", data={"username": "user0", "password": "password123"})
        assert blocked.status_code == 429
        assert blocked.json()["error"] == "RateLimited"
