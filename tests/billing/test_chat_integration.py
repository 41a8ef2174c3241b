"""Chat with credits: each message holds its worst case, is charged its real cost when the
reply is recorded (whole, cut by the upstream, or left by the client), and gives the hold back
when it fails before any output (the contract is in billing/service.py's docstring)."""

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pymongo import AsyncMongoClient

from simplechat.app import create_app
from simplechat.config import Settings
from tests.factories import app_client, free_port, sign_up
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
            burst_limit=20,
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
    refused = short.json()
    assert (refused["code"], refused["needed"]) == ("insufficient_credits", "50.0000")
    assert (refused["balance"], refused["available"]) == ("40.0000", "40.0000")
    history = (await client.get("/user/history/2", headers=headers)).json()
    assert history in ([], [{"type": "user", "text": "hi"}])  # never answered, never charged


def database(settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    assert settings.mongodb_uri is not None
    return AsyncMongoClient(settings.mongodb_uri.get_secret_value())


def ledger_sum(body: dict[str, Any]) -> Decimal:
    return sum((Decimal(e["delta"]) for e in body["ledger"]["items"]), Decimal(0))


async def test_a_conversations_bill_is_the_sum_of_its_messages_costs(
    priced: Any, settings: Settings
) -> None:
    client, _ = priced
    headers = await sign_up(client, "eric")
    conversation = (await client.post("/conversations", json={}, headers=headers)).json()
    assert conversation["bill"] == "0.0000"
    path = f"/conversations/{conversation['id']}"
    for text in ("hi", "my name is Eric", "what is my name?"):
        body = {"message": text, "conversation_id": conversation["id"]}
        assert (await client.post("/llm/message", json=body, headers=headers)).status_code == 200
    again = await client.post(f"{path}/regenerate", headers=headers)
    assert again.status_code == 200, again.text

    seen = (await client.get(path, headers=headers)).json()
    shown = seen["messages"]["items"]
    assert {m["cost"] for m in shown if m["role"] == "user"} == {"0.0000"}
    assert all(Decimal(m["cost"]) > 0 for m in shown if m["role"] == "assistant")
    mongo = database(settings)
    try:
        stored = (
            await mongo[settings.mongodb_db]
            .messages.find({"conversation_id": conversation["id"]})
            .to_list()
        )
    finally:
        await mongo.close()
    assert len(stored) == 7  # the regenerated answer is kept, hidden, and was paid for
    total = sum(m["cost"] for m in stored)
    assert Decimal(seen["bill"]) == Decimal(total) / 10_000
    money = await credits(client, headers)
    charges = [e for e in money["ledger"]["items"] if e["kind"] == "charge"]
    assert len(charges) == 4  # the regeneration was held and charged like a message
    assert -sum(Decimal(e["delta"]) for e in charges) == Decimal(seen["bill"])
    assert ledger_sum(money) == Decimal(money["balance"])


async def test_a_stream_left_by_the_client_is_charged_for_its_partial_output(
    settings: Settings, tmp_path: Path
) -> None:
    models = tmp_path / "models.toml"
    models.write_text(PRICED_MISTRAL.replace("50", "500"), encoding="utf-8")
    async with FakeOpenRouter() as fake:
        fake.reply = " ".join(f"word{i}" for i in range(400))
        fake.chunk_delay = 0.05
        values = settings.model_dump() | {
            "openrouter_api_key": TEST_API_KEY,
            "openrouter_base_url": fake.base_url,
            "upstream_max_retries": 0,
            "models_file": models,
            "credits": True,
            "signup_credits": "1000",
        }
        app = create_app(Settings(_env_file=None, **values))  # type: ignore[call-arg]
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                headers = await sign_up(client, "eric")
                await credits(client, headers)  # open the account: 1000
                body = {"message": "tell me a long story", "stream": True}
                async with client.stream(
                    "POST", "/llm/message", json=body, headers=headers
                ) as response:
                    received = 0
                    async for line in response.aiter_lines():
                        received += line.startswith("data: ")
                        if received == 4:
                            break  # the client leaves mid-stream
                for _ in range(100):
                    money = await credits(client, headers)
                    if money["on_hold"] == "0.0000":
                        break
                    await asyncio.sleep(0.05)
        finally:
            server.should_exit = True
            await serving
    mongo = database(settings)
    try:
        reply = await mongo[settings.mongodb_db].messages.find_one({"role": "assistant"})
    finally:
        await mongo.close()
    assert reply is not None
    assert reply["status"] == "incomplete"
    charge = money["ledger"]["items"][0]
    assert charge["kind"] == "charge"
    # One credit per output token, counted locally: what was produced, not the 500 held.
    assert 0 < -Decimal(charge["delta"]) < 500
    assert -Decimal(charge["delta"]) == Decimal(reply["cost"]) / 10_000
    assert reply["usage"]["estimated"] is True
    assert Decimal(money["balance"]) == 1000 + Decimal(charge["delta"])
