"""Credits across `simplechat serve --workers 2`: codes, balances and holds stay exact when
parallel requests land on two processes."""

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.factories import promote_to_admin
from tests.test_serve import serve

CREDITS_ON = {
    "SIMPLECHAT_CREDITS": "on",
    "SIMPLECHAT_REDEEM_IP_LIMIT": "100000/minute",
}
USERS = 8
ATTEMPTS_EACH = 8  # 64 redemptions, within the default 10 attempts per user


async def sign_up(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    created = await client.post("/user/", json={"username": username, "password": "password123"})
    assert created.status_code == 201, created.text
    token = await client.post("/token", data={"username": username, "password": "password123"})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def ledger_sum(credits: dict[str, Any]) -> Decimal:
    return sum((Decimal(e["delta"]) for e in credits["ledger"]["items"]), Decimal(0))


async def redeem_race(base: str, mongo_uri: str, database: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=USERS * ATTEMPTS_EACH)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        admin = await sign_up(client, "root")
        promote_to_admin(mongo_uri, database, "root")
        made = await client.post("/admin/codes", json={"credits": "5"}, headers=admin)
        code = made.json()["codes"][0]["code"]
        users = await asyncio.gather(*(sign_up(client, f"user{n}") for n in range(USERS)))
        responses = await asyncio.gather(
            *(
                client.post("/user/credits/redeem", json={"code": code}, headers=headers)
                for headers in users
                for _ in range(ATTEMPTS_EACH)
            )
        )
        balances = [(await client.get("/user/credits", headers=h)).json() for h in users]
    assert sorted(b["balance"] for b in balances) == ["0.0000"] * (USERS - 1) + ["5.0000"]
    assert all(ledger_sum(b) == Decimal(b["balance"]) for b in balances)
    return list(responses)


def test_of_64_parallel_redemptions_of_one_code_exactly_one_succeeds(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    with serve(mongo_uri, database_name, tmp_path, **CREDITS_ON) as base:
        responses = asyncio.run(redeem_race(base, mongo_uri, database_name))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 1, statuses
    assert statuses.count(409) == 63, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"code_used"}


async def adjustments(base: str, mongo_uri: str, database: str) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        admin = await sign_up(client, "root")
        promote_to_admin(mongo_uri, database, "root")
        eric = await sign_up(client, "eric")
        user_id = (await client.get("/user/me", headers=eric)).json()["id"]
        path = f"/admin/users/{user_id}/credits"

        async def adjust(delta: str) -> int:
            body = {"delta": delta, "reason": "parallel"}
            return (await client.post(path, json=body, headers=admin)).status_code

        credits = await asyncio.gather(*(adjust("0.1") for _ in range(30)))
        debits = await asyncio.gather(*(adjust("-0.1") for _ in range(40)))
        seen = await client.get(f"{path}?page_size=100", headers=admin)
    assert credits == [200] * 30
    assert sorted(debits) == [200] * 30 + [409] * 10
    result: dict[str, Any] = seen.json()
    return result


def test_parallel_admin_adjustments_never_overdraw(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    with serve(mongo_uri, database_name, tmp_path, **CREDITS_ON) as base:
        seen = asyncio.run(adjustments(base, mongo_uri, database_name))
    assert (seen["balance"], seen["on_hold"]) == ("0.0000", "0.0000")
    assert seen["ledger"]["total"] == 60
    assert ledger_sum(seen) == 0


MOCK_PRICED = """
[[models]]
name = "mock"
max_output_tokens = 4           # the mock's reply is cut to 4 words: 4 completion tokens
price = { input = "0", output = "1" }   # 0.004 credits a message, exactly its hold
"""


async def chat_race(base: str) -> tuple[list[httpx.Response], dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        headers = await sign_up(client, "eric")
        async with httpx.AsyncClient(
            base_url=base, timeout=60, limits=httpx.Limits(max_connections=50)
        ) as parallel:
            responses = await asyncio.gather(
                *(
                    parallel.post("/llm/message", json={"message": f"hi {n}"}, headers=headers)
                    for n in range(50)
                )
            )
        credits = (await client.get("/user/credits?page_size=100", headers=headers)).json()
    return list(responses), credits


def test_a_balance_for_exactly_seven_messages_answers_seven_of_fifty(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    models = tmp_path / "models.toml"
    models.write_text(MOCK_PRICED, encoding="utf-8")
    env = {
        **CREDITS_ON,
        "SIMPLECHAT_SIGNUP_CREDITS": "0.028",
        "SIMPLECHAT_MODELS_FILE": str(models),
        "SIMPLECHAT_DEFAULT_MODEL": "mock",
        "SIMPLECHAT_BURST_LIMIT": "100",
        "SIMPLECHAT_DAILY_LIMIT": "1000",
    }
    with serve(mongo_uri, database_name, tmp_path, **env) as base:
        responses, credits = asyncio.run(chat_race(base))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 7, statuses
    assert statuses.count(402) == 43, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 402} == {"insufficient_credits"}
    assert (credits["balance"], credits["on_hold"]) == ("0.0000", "0.0000")
    assert ledger_sum(credits) == 0
    assert [e["kind"] for e in credits["ledger"]["items"]].count("charge") == 7
