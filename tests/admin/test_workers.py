"""The admin area on `simplechat serve --workers 2`: decisions that must be atomic are."""

import asyncio
import io
from pathlib import Path

import httpx
import pytest

from simplechat import cli
from simplechat.config import get_settings
from tests.factories import TEST_JWT_SECRET, serve

PASSWORD = "password123"
PARALLEL = 24


def create_admin_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch, mongo_uri: str, database: str, data_dir: Path, name: str
) -> None:
    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    monkeypatch.setenv("SIMPLECHAT_MONGODB_DB", database)
    monkeypatch.setenv("SIMPLECHAT_JWT_SECRET", TEST_JWT_SECRET)
    monkeypatch.setenv("SIMPLECHAT_DATA_DIR", str(data_dir))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    get_settings.cache_clear()
    try:
        assert cli.main(["admin", "create", name]) == 0
    finally:
        get_settings.cache_clear()


async def bearer(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await client.post("/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def many_connections(base: str) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=PARALLEL, max_keepalive_connections=0)
    return httpx.AsyncClient(base_url=base, timeout=60, limits=limits)


def test_two_admins_demoting_each_other_at_once_leave_one(
    mongo_uri: str, database_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_admin_from_the_command_line(monkeypatch, mongo_uri, database_name, tmp_path, "alice")

    async def rounds(base: str) -> None:
        async with many_connections(base) as client:
            alice = await bearer(client, "alice")
            made = await client.post(
                "/admin/users",
                json={"username": "bob", "password": PASSWORD, "role": "admin"},
                headers=alice,
            )
            assert made.status_code == 201, made.text
            for _ in range(5):
                # a role change ends the sessions from before: both log in for each round
                alice, bob = await bearer(client, "alice"), await bearer(client, "bob")
                first, second = await asyncio.gather(
                    client.delete("/admin/admins/bob", headers=alice),
                    client.delete("/admin/admins/alice", headers=bob),
                )
                statuses = sorted([first.status_code, second.status_code])
                # the loser is refused as the last admin, or is no admin anymore by then (its
                # token already revoked by its demotion: 401)
                assert statuses in ([200, 401], [200, 403], [200, 409]), (first.text, second.text)
                remaining = [
                    name
                    for name in ("alice", "bob")
                    if (await client.get("/user/me", headers=await bearer(client, name))).json()[
                        "role"
                    ]
                    == "admin"
                ]
                assert len(remaining) == 1, remaining
                winner = await bearer(client, remaining[0])
                loser = "bob" if remaining == ["alice"] else "alice"
                promoted = await client.put(f"/admin/admins/{loser}", headers=winner)
                assert promoted.status_code == 200

    with serve(mongo_uri, database_name, tmp_path) as base:
        asyncio.run(rounds(base))


def test_a_lowered_daily_limit_holds_under_a_parallel_burst(
    mongo_uri: str, database_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_admin_from_the_command_line(monkeypatch, mongo_uri, database_name, tmp_path, "alice")

    async def scenario(base: str) -> list[httpx.Response]:
        async with many_connections(base) as client:
            await client.post("/user/", json={"username": "eric", "password": PASSWORD})
            eric = await bearer(client, "eric")
            alice = await bearer(client, "alice")
            changed = await client.patch(
                "/admin/users/eric", json={"daily_limit": 3, "burst_limit": 50}, headers=alice
            )
            assert changed.status_code == 200, changed.text
            return await asyncio.gather(
                *(
                    client.post("/llm/message", json={"message": f"hi {i}"}, headers=eric)
                    for i in range(PARALLEL)
                )
            )

    with serve(mongo_uri, database_name, tmp_path) as base:  # the configured limits: 20 and 3
        responses = asyncio.run(scenario(base))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 3, statuses
    refused = [r.json() for r in responses if r.status_code != 200]
    assert {(body["code"], body["limit"]) for body in refused} == {("daily_limit", 3)}
