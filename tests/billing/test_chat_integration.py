"""What chat must do with credits, written ahead of the integration (chat/service.py is being
restructured): each test is an expected failure until chat calls `BillingService.hold`,
`charge_turn` and `release` (the contract is in billing/service.py's docstring). Strict: once
the integration makes one pass, its marker must go."""

from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from simplechat.config import Settings
from tests.factories import app_client, sign_up
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

PRICED_MISTRAL = """
[[models]]
name = "mistralai/mistral-7b-instruct"
max_output_tokens = 50                     # a hold is 50 credits
price = { input = "0", output = "1000" }   # one credit per output token
"""


@pytest.fixture
async def priced(settings: Settings, tmp_path: Path) -> Any:
    models = tmp_path / "models.toml"
    models.write_text(PRICED_MISTRAL, encoding="utf-8")
    async with FakeOpenRouter() as fake:
        values = settings.model_dump()
        values.update(
            openrouter_api_key=TEST_API_KEY,
            openrouter_base_url=fake.base_url,
            upstream_max_retries=0,
            models_file=models,
            credits=True,
            signup_credits="100",
        )
        async with app_client(Settings(_env_file=None, **values)) as client:  # type: ignore[call-arg]
            yield client, fake


async def credits(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/user/credits", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_whole_reply_is_charged_its_real_cost(priced: Any) -> None:
    client, _ = priced
    headers = await sign_up(client, "eric")
    reply = await client.post("/llm/message", json={"message": "hi"}, headers=headers)
    assert reply.status_code == 200
    tokens = reply.json()["usage"]["completion_tokens"]
    body = await credits(client, headers)
    charge = body["ledger"]["items"][0]
    assert (charge["kind"], charge["delta"]) == ("charge", f"-{tokens}.0000")
    assert (body["balance"], body["on_hold"]) == (f"{100 - tokens}.0000", "0.0000")


async def test_a_stream_cut_by_the_upstream_is_charged_for_its_partial_output(
    priced: Any,
) -> None:
    client, fake = priced
    fake.fail_next("cut_stream", after=2)
    headers = await sign_up(client, "eric")
    body = {"message": "hi, my name is Eric", "stream": True}
    response = await client.post("/llm/message", json=body, headers=headers)
    assert response.status_code == 200
    seen = await credits(client, headers)
    kinds = [e["kind"] for e in seen["ledger"]["items"]]
    assert kinds == ["charge", "signup"]  # the partial reply is charged (counted locally)
    assert seen["on_hold"] == "0.0000"


async def test_a_failure_before_any_output_releases_the_hold(priced: Any) -> None:
    """Passes today (nothing is held yet) and must keep passing once chat holds credits."""
    client, fake = priced
    fake.fail_next("status", status=500)
    headers = await sign_up(client, "eric")
    failed = await client.post("/llm/message", json={"message": "hi"}, headers=headers)
    assert failed.status_code == 502
    seen = await credits(client, headers)
    assert (seen["balance"], seen["on_hold"]) == ("100.0000", "0.0000")
    assert seen["ledger"]["total"] == 1  # the signup only


async def test_a_message_whose_worst_case_is_not_covered_gets_402(
    priced: Any, settings: Settings
) -> None:
    client, _ = priced
    headers = await sign_up(client, "eric")
    await credits(client, headers)  # the account opens with 100
    me = (await client.get("/user/me", headers=headers)).json()["id"]
    assert settings.mongodb_uri is not None
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    await mongo[settings.mongodb_db].credit_accounts.update_one(
        {"_id": me},
        {"$set": {"available": 400_000}},  # 40 credits: less than one hold (50)
    )
    await mongo.close()
    short = await client.post("/llm/message", json={"message": "hi"}, headers=headers)
    assert short.status_code == 402
    assert (short.json()["code"], short.json()["needed"]) == ("insufficient_credits", "50.0000")
    history = (await client.get("/user/history/2", headers=headers)).json()
    assert history in ([], [{"type": "user", "text": "hi"}])  # never answered, never charged
