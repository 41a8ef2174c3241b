"""Limits, status and the behaviour report through the ASGI app."""

from typing import Any

import httpx
import pytest

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


class TestReport:
    async def test_report_shows_activity(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        await client.post("/llm/message", json={"message": SEED}, headers=auth_headers)
        await client.post(
            "/llm/message/advanced", json={"message": "I had a long day"}, headers=auth_headers
        )
        await client.post("/llm/message", json={"message": "bye"}, headers=auth_headers)
        await client.post("/llm/message", json={"message": "refused"}, headers=auth_headers)
        response = await client.get("/user/report", headers=auth_headers)
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["username"] == "eric"
        assert report["totals"] == {"messages": 3, "replies": 3, "plain": 2, "advanced": 1}
        assert report["active_days"] == 1
        assert len(report["messages_per_day"]) == 30
        assert report["messages_per_day"][-1]["count"] == 3
        assert sum(report["hour_histogram"]) == 3
        assert len(report["hour_histogram"]) == 24
        assert report["average_message_chars"] == pytest.approx(
            (len(SEED) + len("I had a long day") + 3) / 3, abs=0.1
        )
        assert report["tokens"]["total"] > 0
        assert report["limit_refusals"] == {"burst_limit": 1}
        assert report["first_activity"] <= report["last_activity"]

    async def test_report_is_only_the_callers(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        await client.post("/llm/message", json={"message": SEED}, headers=auth_headers)
        other = await sign_up(client, "mallory")
        report = (await client.get("/user/report", headers=other)).json()
        assert report["totals"]["messages"] == 0
        assert report["first_activity"] is None

    @pytest.mark.parametrize("path", ["/user/report?format=svg", "/user/report.svg"])
    async def test_report_as_svg(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str], path: str
    ) -> None:
        await client.post("/llm/message", json={"message": SEED}, headers=auth_headers)
        response = await client.get(path, headers=auth_headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.text.startswith("<svg")
        assert "eric" in response.text
        assert response.text.count("<rect") > 24

    async def test_report_bad_format_is_422(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        response = await client.get("/user/report?format=pdf", headers=auth_headers)
        assert response.status_code == 422
