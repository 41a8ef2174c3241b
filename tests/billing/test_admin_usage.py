"""GET /admin/usage: every user's usage records summed per day and per model, for admins only,
with the same range rules as /user/usage."""

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from simplechat.config import Settings
from tests.factories import app_client, make_settings, promote_to_admin, sign_up

PRICED_MOCK = """
[[models]]
name = "mock"
max_output_tokens = 6
price = { input = "1", output = "10" }
"""


@pytest.fixture
async def app(mongo_uri: str, database_name: str, tmp_path: Path) -> Any:
    models = tmp_path / "models.toml"
    models.write_text(PRICED_MOCK, encoding="utf-8")
    settings: Settings = make_settings(
        mongo_uri,
        database_name,
        tmp_path,
        models_file=models,
        default_model="mock",
        burst_limit=20,
    )
    async with app_client(settings) as client:
        yield client


async def usage(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> Any:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_everyones_answers_are_summed_per_day_and_model(
    app: httpx.AsyncClient, mongo_uri: str, database_name: str
) -> None:
    eric = await sign_up(app, "eric_usage")
    mallory = await sign_up(app, "mallory_usage")
    admin = await sign_up(app, "root_usage")
    promote_to_admin(mongo_uri, database_name, "root_usage")
    for headers, text in ((eric, "one"), (eric, "two words"), (mallory, "three")):
        sent = await app.post("/llm/message", json={"message": text}, headers=headers)
        assert sent.status_code == 200, sent.text

    everyone = await usage(app, "/admin/usage", admin)
    mine = [await usage(app, "/user/usage", h) for h in (eric, mallory)]
    assert everyone["total"]["replies"] == 3
    for field in ("replies", "prompt_tokens", "completion_tokens", "total_tokens"):
        assert everyone["total"][field] == sum(m["total"][field] for m in mine), field
    assert Decimal(everyone["total"]["cost"]) == sum(Decimal(m["total"]["cost"]) for m in mine)
    assert Decimal(everyone["total"]["cost"]) > 0
    [day] = everyone["by_day"]
    assert day["date"] == everyone["to"]
    assert [(m["model"], m["replies"]) for m in day["models"]] == [("mock", 3)]
    assert [(m["model"], m["replies"]) for m in everyone["by_model"]] == [("mock", 3)]
    start = date.fromisoformat(everyone["to"]) - timedelta(days=29)
    assert everyone["from"] == start.isoformat()


async def test_a_range_without_usage_is_empty_and_a_wrong_one_refused(
    app: httpx.AsyncClient, mongo_uri: str, database_name: str
) -> None:
    eric = await sign_up(app, "eric_range")
    admin = await sign_up(app, "root_range")
    promote_to_admin(mongo_uri, database_name, "root_range")
    assert (await app.post("/llm/message", json={"message": "hi"}, headers=eric)).status_code == 200
    today = date.fromisoformat((await usage(app, "/admin/usage", admin))["to"])
    before = (today - timedelta(days=1)).isoformat()
    empty = await usage(app, f"/admin/usage?from=2026-01-01&to={before}", admin)
    assert empty["by_day"] == []
    assert empty["total"]["replies"] == 0
    assert len((await usage(app, f"/admin/usage?from={today}&to={today}", admin))["by_day"]) == 1
    backwards = await app.get("/admin/usage?from=2026-02-01&to=2026-01-01", headers=admin)
    assert backwards.status_code == 422
    too_long = await app.get("/admin/usage?from=2020-01-01&to=2026-01-01", headers=admin)
    assert too_long.status_code == 422


async def test_only_admins_see_everyones_usage(app: httpx.AsyncClient) -> None:
    eric = await sign_up(app, "eric_nosy")
    refused = await app.get("/admin/usage", headers=eric)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert (await app.get("/admin/usage")).status_code == 401
