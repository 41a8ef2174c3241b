"""Credits, redeem codes and usage through the ASGI app, as a user and as an admin."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from simplechat.config import Settings
from tests.factories import app_client, make_settings, promote_to_admin, sign_up


@pytest.fixture
def credit_settings(mongo_uri: str, database_name: str, tmp_path: Path) -> Settings:
    return make_settings(
        mongo_uri, database_name, tmp_path, credits=True, signup_credits="10", redeem_attempts=3
    )


@pytest.fixture
async def on(credit_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(credit_settings) as http:
        yield http


@pytest.fixture
async def admin(on: httpx.AsyncClient, mongo_uri: str, database_name: str) -> dict[str, str]:
    headers = await sign_up(on, "root")
    promote_to_admin(mongo_uri, database_name, "root")
    return headers


async def new_codes(
    client: httpx.AsyncClient, admin: dict[str, str], **body: Any
) -> list[dict[str, Any]]:
    response = await client.post("/admin/codes", json={"credits": "2.5", **body}, headers=admin)
    assert response.status_code == 201, response.text
    codes: list[dict[str, Any]] = response.json()["codes"]
    return codes


async def test_credits_are_off_by_default(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    for method, path, body in [
        ("GET", "/user/credits", None),
        ("POST", "/user/credits/redeem", {"code": "Z" * 28}),
    ]:
        response = await client.request(method, path, json=body, headers=auth_headers)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "credits_disabled"
    usage = await client.get("/user/usage", headers=auth_headers)
    assert usage.status_code == 200  # pricing and usage work without credits
    assert usage.json()["total"]["replies"] == 0


async def test_a_new_account_starts_with_the_signup_credits(on: httpx.AsyncClient) -> None:
    headers = await sign_up(on, "eric")
    body = (await on.get("/user/credits", headers=headers)).json()
    assert (body["balance"], body["available"], body["on_hold"]) == ("10.0000", "10.0000", "0.0000")
    assert body["ledger"]["total"] == 1
    [entry] = body["ledger"]["items"]
    assert (entry["kind"], entry["delta"]) == ("signup", "10.0000")
    again = (await on.get("/user/credits", headers=headers)).json()
    assert again["ledger"]["total"] == 1


async def test_admin_routes_need_an_admin(on: httpx.AsyncClient) -> None:
    headers = await sign_up(on, "eric")
    for method, path in [
        ("POST", "/admin/codes"),
        ("GET", "/admin/codes"),
        ("GET", "/admin/codes/ZZZZ"),
        ("DELETE", "/admin/codes/ZZZZ"),
        ("GET", "/admin/users/x/credits"),
        ("POST", "/admin/users/x/credits"),
    ]:
        body = {"credits": "1"} if path == "/admin/codes" else {"delta": "1", "reason": "r"}
        json = body if method == "POST" else None
        assert (await on.request(method, path, json=json)).status_code == 401
        refused = await on.request(method, path, json=json, headers=headers)
        assert refused.status_code == 403, (method, path, refused.text)


async def test_an_admin_makes_codes_and_a_user_redeems_one(
    on: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    codes = await new_codes(on, admin, count=3, note="launch")
    assert len(codes) == 3
    first = codes[0]
    assert first["code"].count("-") == 6
    assert (first["credits"], first["status"], first["note"]) == ("2.5000", "unused", "launch")
    eric = await sign_up(on, "eric")
    typed = first["code"].lower().replace("-", " ")
    redeemed = await on.post("/user/credits/redeem", json={"code": typed}, headers=eric)
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.json() == {
        "balance": "12.5000",
        "available": "12.5000",
        "on_hold": "0.0000",
        "code": first["code"],
        "credited": "2.5000",
    }
    again = await on.post("/user/credits/redeem", json={"code": first["code"]}, headers=eric)
    assert (again.status_code, again.json()["code"]) == (409, "code_used")
    looked_up = (await on.get(f"/admin/codes/{first['code']}", headers=admin)).json()
    assert (looked_up["status"], looked_up["used_by_name"]) == ("used", "eric")
    assert looked_up["used_at"]
    listed = (await on.get("/admin/codes?status=used", headers=admin)).json()
    # stored hashed: listed by its id and first symbols, never whole again
    assert [(c["id"], c["code"]) for c in listed["items"]] == [
        (first["id"], first["code"][:4] + "-…")
    ]
    by_id = (await on.get(f"/admin/codes/{first['id']}", headers=admin)).json()
    assert by_id["status"] == "used"
    assert (listed["total"], listed["page"], listed["page_size"]) == (1, 1, 20)
    unused = (await on.get("/admin/codes?status=unused&page_size=1", headers=admin)).json()
    assert (unused["total"], len(unused["items"])) == (2, 1)
    ledger = (await on.get("/user/credits", headers=eric)).json()["ledger"]["items"]
    assert [(e["kind"], e["delta"], e["reference"]) for e in ledger] == [
        ("redeem", "2.5000", first["code"][:4] + "-…"),
        ("signup", "10.0000", None),
    ]


async def test_redeem_errors_are_distinct(
    on: httpx.AsyncClient, admin: dict[str, str], mongo_uri: str, database_name: str
) -> None:
    eric = await sign_up(on, "eric")
    disabled, expired = await new_codes(on, admin, count=2)
    gone = await on.delete(f"/admin/codes/{disabled['code']}", headers=admin)
    assert (gone.status_code, gone.json()["status"]) == (200, "disabled")
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    client[database_name].redeem_codes.update_one(
        {"_id": expired["id"]}, {"$set": {"expires_ms": 1}}
    )
    client.close()
    cases = [
        (disabled["code"], 409, "code_disabled"),
        (expired["code"], 410, "code_expired"),
        ("Z" * 28, 404, "code_not_found"),
        ("not a code", 422, "invalid_input"),
    ]
    for code, status, error_code in cases:
        response = await on.post("/user/credits/redeem", json={"code": code}, headers=eric)
        assert (response.status_code, response.json()["code"]) == (status, error_code), code
        assert response.json()["detail"]
    limited = await on.post("/user/credits/redeem", json={"code": "Y" * 28}, headers=eric)
    assert (limited.status_code, limited.json()["code"]) == (429, "redeem_limit")
    assert limited.headers["Retry-After"]
    listed = (await on.get("/admin/codes?status=expired", headers=admin)).json()
    assert [c["id"] for c in listed["items"]] == [expired["id"]]
    bad = await on.get("/admin/codes?status=lost", headers=admin)
    assert bad.status_code == 422


async def test_redeem_is_limited_per_ip(credit_settings: Settings) -> None:
    values = credit_settings.model_dump()
    values.update(redeem_ip_limit="2/minute", redeem_attempts=100)
    async with app_client(Settings(_env_file=None, **values)) as client:  # type: ignore[call-arg]
        headers = await sign_up(client, "eric")
        statuses = [
            (await client.post("/user/credits/redeem", json={"code": "Z" * 28}, headers=headers))
            for _ in range(3)
        ]
        assert [r.status_code for r in statuses] == [404, 404, 429]
        assert statuses[-1].json()["code"] == "ip_limit"


async def test_admins_adjust_a_balance_with_a_reason(
    on: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await sign_up(on, "eric")
    me = await sign_up(on, "mallory")
    user_id = (await on.get("/user/me", headers=me)).json()["id"]
    added = await on.post(
        f"/admin/users/{user_id}/credits", json={"delta": "5", "reason": "outage"}, headers=admin
    )
    assert added.status_code == 200, added.text
    assert (added.json()["balance"], added.json()["user_id"]) == ("15.0000", user_id)
    too_much = await on.post(
        f"/admin/users/{user_id}/credits", json={"delta": "-15.0001", "reason": "x"}, headers=admin
    )
    assert (too_much.status_code, too_much.json()["code"]) == (409, "balance_too_low")
    assert too_much.json()["available"] == "15.0000"
    for body in (
        {"delta": "0", "reason": "x"},
        {"delta": "1"},
        {"delta": "1.00001", "reason": "x"},
    ):
        response = await on.post(f"/admin/users/{user_id}/credits", json=body, headers=admin)
        assert response.status_code == 422, body
    missing = await on.post(
        "/admin/users/6b01b59ab1945f3903016eff/credits",
        json={"delta": "1", "reason": "x"},
        headers=admin,
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "user_not_found")
    seen = (await on.get(f"/admin/users/{user_id}/credits", headers=admin)).json()
    assert seen["balance"] == "15.0000"
    entry = seen["ledger"]["items"][0]
    assert (entry["kind"], entry["delta"], entry["note"]) == ("admin", "5.0000", "outage")
    mine = (await on.get("/user/credits", headers=me)).json()
    assert mine["ledger"]["items"][0]["note"] == "outage"  # the user sees why
    assert (await on.get("/admin/users/nope/credits", headers=admin)).status_code == 404


async def test_code_validation(on: httpx.AsyncClient, admin: dict[str, str]) -> None:
    for body in (
        {"credits": "0"},
        {"credits": "-1"},
        {"credits": "1.00001"},
        {"credits": "1", "count": 0},
        {"credits": "1", "count": 101},
        {"credits": "1", "expires_at": "2000-01-01T00:00:00Z"},
        {"credits": "1", "extra": True},
    ):
        response = await on.post("/admin/codes", json=body, headers=admin)
        assert response.status_code == 422, body
    hundred = await new_codes(on, admin, count=100, expires_at="2999-01-01T00:00:00")
    assert len({c["code"] for c in hundred}) == 100
    assert hundred[0]["expires_at"].startswith("2999-01-01T00:00:00")
    used_one = await new_codes(on, admin)
    eric = await sign_up(on, "eric")
    await on.post("/user/credits/redeem", json={"code": used_one[0]["code"]}, headers=eric)
    refused = await on.delete(f"/admin/codes/{used_one[0]['code']}", headers=admin)
    assert (refused.status_code, refused.json()["code"]) == (409, "code_used")
    assert (await on.delete("/admin/codes/" + "Z" * 28, headers=admin)).status_code == 404


async def test_usage_range(on: httpx.AsyncClient) -> None:
    headers = await sign_up(on, "eric")
    bad = await on.get("/user/usage?from=2026-02-01&to=2026-01-01", headers=headers)
    assert bad.status_code == 422
    assert (await on.get("/user/usage?from=yesterday", headers=headers)).status_code == 422
    fine = await on.get("/user/usage?from=2026-01-01&to=2026-01-31", headers=headers)
    assert fine.status_code == 200
    assert (fine.json()["from"], fine.json()["to"]) == ("2026-01-01", "2026-01-31")
    assert fine.json()["by_day"] == []
