"""Accounts on a real multi-process server (`simplechat serve --workers N`): what must hold
across workers holds, and a login storm does not blow a worker's memory."""

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from simplechat import cli
from simplechat.config import get_settings
from tests.factories import running_server, serve
from tests.fakes.wechat import TEST_APP_ID, TEST_APP_SECRET, fake_wechat_in_thread

PASSWORD = "password123"
MAX_WORKER_RSS_MB = 300


async def signed_up(client: httpx.AsyncClient, username: str) -> dict[str, Any]:
    await client.post("/user/", json={"username": username, "password": PASSWORD})
    response = await client.post("/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def many_connections(base: str, n: int) -> httpx.AsyncClient:
    """A client that opens a connection per parallel request, so both workers get some."""
    return httpx.AsyncClient(
        base_url=base,
        timeout=120,
        limits=httpx.Limits(max_connections=n, max_keepalive_connections=0),
    )


def test_parallel_refreshes_with_one_token_have_exactly_one_winner(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    async def scenario(base: str) -> list[int]:
        async with many_connections(base, 16) as client:
            pair = await signed_up(client, "eric")
            responses = await asyncio.gather(
                *(
                    client.post("/token/refresh", json={"refresh_token": pair["refresh_token"]})
                    for _ in range(16)
                )
            )
            return [r.status_code for r in responses]

    with serve(mongo_uri, database_name, tmp_path) as base:
        for _ in range(3):  # a race that passes once can still be lost: try it a few times
            statuses = asyncio.run(scenario(base))
            assert statuses.count(200) == 1, statuses
            assert statuses.count(401) == 15, statuses


def test_the_ip_limit_is_shared_by_the_workers(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    async def scenario(base: str) -> list[httpx.Response]:
        async with many_connections(base, 24) as client:
            return await asyncio.gather(
                *(
                    client.post("/token", data={"username": "eric", "password": f"guess-{i}"})
                    for i in range(24)
                )
            )

    with serve(mongo_uri, database_name, tmp_path, SIMPLECHAT_IP_LIMIT="5/minute") as base:
        responses = asyncio.run(scenario(base))
    statuses = [r.status_code for r in responses]
    # in-memory counters would let each worker allow 5 (up to 10 in all)
    assert statuses.count(401) == 5, statuses
    assert statuses.count(429) == 19, statuses
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["code"] == "ip_limit"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_200_parallel_wrong_logins_keep_a_worker_under_300_mb(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    """Each argon2 check takes 64 MiB: without a bound, the thread pool would run several at
    once per worker. Hashes wait their turn instead (SIMPLECHAT_PASSWORD_HASH_CONCURRENCY)."""
    peak = 0.0
    stop = threading.Event()

    def watch(pid: int) -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_mb(pid))
            time.sleep(0.02)

    async def storm(base: str) -> list[int]:
        async with many_connections(base, 200) as client:
            await client.post("/user/", json={"username": "eric", "password": PASSWORD})
            responses = await asyncio.gather(
                *(
                    client.post("/token", data={"username": "eric", "password": f"wrong-{i}"})
                    for i in range(200)
                )
            )
            return [r.status_code for r in responses]

    with running_server(
        tmp_path,
        mongo_uri=mongo_uri,
        database=database_name,
        workers=1,  # the server process is the worker
        SIMPLECHAT_IP_LIMIT="100000/minute",
        # every attempt must reach argon2 (the account's own throttle would refuse most first)
        SIMPLECHAT_LOGIN_ACCOUNT_LIMIT="100000/minute",
    ) as served:
        idle = rss_mb(served.process.pid)
        watcher = threading.Thread(target=watch, args=(served.process.pid,), daemon=True)
        watcher.start()
        try:
            statuses = asyncio.run(storm(served.base))
        finally:
            stop.set()
            watcher.join()
    print(f"worker RSS: idle {idle:.0f} MB, peak {peak:.0f} MB during 200 parallel logins")
    assert statuses == [401] * 200
    assert peak < MAX_WORKER_RSS_MB, f"peak RSS {peak:.0f} MB (idle {idle:.0f} MB)"


def test_parallel_first_wechat_logins_across_workers_make_one_user(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    async def scenario(base: str) -> set[str]:
        async with many_connections(base, 12) as client:
            responses = await asyncio.gather(
                *(client.post("/token/wechat", json={"code": "ok-twin"}) for _ in range(12))
            )
            ids = set()
            for response in responses:
                assert response.status_code == 200, response.text
                headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
                ids.add((await client.get("/user/me", headers=headers)).json()["id"])
            return ids

    with (
        fake_wechat_in_thread() as wechat,
        serve(
            mongo_uri,
            database_name,
            tmp_path,
            SIMPLECHAT_WECHAT_APP_ID=TEST_APP_ID,
            SIMPLECHAT_WECHAT_APP_SECRET=TEST_APP_SECRET,
            SIMPLECHAT_WECHAT_BASE_URL=wechat.url,
        ) as base,
    ):
        assert len(asyncio.run(scenario(base))) == 1


def test_the_command_line_uses_the_embedded_database_of_a_running_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`simplechat serve` on the embedded default, then `simplechat admin create` beside it."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with running_server(data_dir, mongo_uri=None, workers=1) as served:
        monkeypatch.delenv("MONGODB_URI", raising=False)
        monkeypatch.setenv("SIMPLECHAT_DATA_DIR", str(data_dir))
        monkeypatch.setenv("SIMPLECHAT_JWT_SECRET", "unused-by-this-command-" + "z" * 20)
        monkeypatch.setattr("sys.stdin", __import__("io").StringIO("alice's long password\n"))
        get_settings.cache_clear()
        try:
            assert cli.main(["admin", "create", "alice"]) == 0, capsys.readouterr().err
        finally:
            get_settings.cache_clear()
        login = httpx.post(
            f"{served.base}/token",
            data={"username": "alice", "password": "alice's long password"},
        )
        assert login.status_code == 200
        me = httpx.get(
            f"{served.base}/user/me",
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        )
        assert (me.json()["role"], me.json()["level"]) == ("admin", 2)


def test_a_token_revoked_on_one_worker_is_refused_by_every_worker(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    """The old access token is refused on the very next request, whichever worker answers:
    the epoch lives in the user's document, read by the lookup each request already makes
    (and by the chat admission's update, after each worker has cached the user's limits)."""

    async def scenario(base: str) -> tuple[list[int], list[int], list[int]]:
        async with many_connections(base, 24) as client:
            pair = await signed_up(client, "eric")
            old = {"Authorization": f"Bearer {pair['access_token']}"}
            warm = await asyncio.gather(
                *(
                    client.post("/llm/message", json={"message": "hi"}, headers=old)
                    for _ in range(24)
                )
            )
            changed = await client.post(
                "/user/me/password",
                json={"old_password": PASSWORD, "new_password": "a brand new password"},
                headers=old,
            )
            assert changed.status_code == 200, changed.text
            new = {"Authorization": f"Bearer {changed.json()['access_token']}"}
            after = await asyncio.gather(
                *(
                    client.post("/llm/message", json={"message": "hi"}, headers=old)
                    for _ in range(24)
                ),
                *(client.get("/user/me", headers=old) for _ in range(24)),
            )
            fresh = await asyncio.gather(
                *(
                    client.post("/llm/message", json={"message": "hi"}, headers=new)
                    for _ in range(8)
                )
            )
            return (
                [r.status_code for r in warm],
                [r.status_code for r in after],
                [r.status_code for r in fresh],
            )

    env = {"SIMPLECHAT_BURST_LIMIT": "100", "SIMPLECHAT_DAILY_LIMIT": "1000"}
    with serve(mongo_uri, database_name, tmp_path, **env) as base:
        warm, after, fresh = asyncio.run(scenario(base))
    assert warm == [200] * 24, warm
    assert after == [401] * 48, after
    assert fresh == [200] * 8, fresh


def test_the_account_login_throttle_is_exact_across_workers(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    """24 parallel guesses at one account from a new place, on two workers: exactly the
    account's 5 attempts reach the password check, the rest get 429 login_limit."""

    async def scenario(base: str) -> list[httpx.Response]:
        async with many_connections(base, 24) as client:
            await client.post("/user/", json={"username": "eric", "password": PASSWORD})
            return await asyncio.gather(
                *(
                    client.post("/token", data={"username": "eric", "password": f"guess-{i}"})
                    for i in range(24)
                )
            )

    env = {"SIMPLECHAT_IP_LIMIT": "1000/minute", "SIMPLECHAT_LOGIN_ACCOUNT_LIMIT": "5/hour"}
    with serve(mongo_uri, database_name, tmp_path, **env) as base:
        responses = asyncio.run(scenario(base))
    statuses = [r.status_code for r in responses]
    assert statuses.count(401) == 5, statuses
    assert statuses.count(429) == 19, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 429} == {"login_limit"}
