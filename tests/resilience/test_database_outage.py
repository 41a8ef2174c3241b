"""The database stops during traffic: every request fails fast with a 503 JSON error (no hung
requests), and when the database is back (same port, same file) simplechat recovers without a
restart and nothing stored before the outage is lost."""

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from simplechat.kit.embedded import EmbeddedMongo
from tests.factories import app_client, make_settings, sign_up

TIMEOUT_MS = 500  # the app's database timeout: server selection gives up after this
FAIL_FAST_SECONDS = 3.0  # each request during the outage must be answered within this
RECOVERY_SECONDS = 15.0
WORKERS = 4


async def restarted_messages(server: EmbeddedMongo, text: str) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(server.uri)
    try:
        return await client["outage"].messages.count_documents({"text": text})
    finally:
        await client.close()


async def timed(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.request(method, url, **kwargs)
    return response, time.monotonic() - started


def assert_unavailable(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "database_unavailable"
    assert elapsed < FAIL_FAST_SECONDS, f"{response.request.url} took {elapsed:.1f} s"


async def test_outage_fails_fast_and_recovers_without_restart(tmp_path: Path) -> None:
    server = EmbeddedMongo(tmp_path / "db").start()
    settings = make_settings(
        server.uri,
        "outage",
        tmp_path,
        mongodb_timeout_ms=TIMEOUT_MS,
        burst_limit=30,
        burst_window_seconds=1,
        daily_limit=10_000,
    )
    restarted: EmbeddedMongo | None = None
    try:
        async with app_client(settings) as client:
            headers = await sign_up(client, "eric")
            first = await client.post("/llm/message", json={"message": "before"}, headers=headers)
            assert first.status_code == 200

            # traffic that keeps going while the database goes away and comes back
            outcomes: list[tuple[int, float]] = []
            stop = asyncio.Event()

            async def traffic(n: int) -> None:
                while not stop.is_set():
                    body = {"message": f"traffic {n}"}
                    response, elapsed = await timed(
                        client, "POST", "/llm/message", json=body, headers=headers
                    )
                    outcomes.append((response.status_code, elapsed))
                    assert response.headers["content-type"].startswith("application/json")
                    await asyncio.sleep(0.02)

            workers = [asyncio.create_task(traffic(n)) for n in range(WORKERS)]
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.stop)

            for method, url in [
                ("POST", "/llm/message"),
                ("GET", "/user/me"),
                ("GET", "/user/status"),
                ("GET", "/user/history/5"),
                ("GET", "/user/report"),
            ]:
                kwargs = {"json": {"message": "during"}} if method == "POST" else {}
                response, elapsed = await timed(client, method, url, headers=headers, **kwargs)
                assert_unavailable(response, elapsed)
            login = {"username": "eric", "password": "password123"}
            response, elapsed = await timed(client, "POST", "/token", data=login)
            assert_unavailable(response, elapsed)
            health, elapsed = await timed(client, "GET", "/healthz")
            assert health.status_code == 503
            assert elapsed < FAIL_FAST_SECONDS

            restarted = EmbeddedMongo(tmp_path / "db", port=server.port)
            await asyncio.to_thread(restarted.start)
            deadline = time.monotonic() + RECOVERY_SECONDS
            while (await client.get("/healthz")).status_code != 200:
                assert time.monotonic() < deadline, "simplechat did not recover"
                await asyncio.sleep(0.1)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*workers), timeout=FAIL_FAST_SECONDS * 2)
            body = {"message": "after"}
            recovered = await client.post("/llm/message", json=body, headers=headers)
            assert recovered.status_code == 200, recovered.text

            statuses = {status for status, _ in outcomes}
            assert statuses <= {200, 401, 503}, (
                outcomes
            )  # 401: the burst limit, when traffic is fast
            assert 503 in statuses
            slowest = max(elapsed for _, elapsed in outcomes)
            assert slowest < FAIL_FAST_SECONDS, f"a request hung for {slowest:.1f} s"

            history = (await client.get("/user/history/2", headers=headers)).json()
            assert history[0] == {"type": "user", "text": "after"}
            kept = await restarted_messages(restarted, "before")
            assert kept == 1, "a message stored before the outage was lost"
    finally:
        server.stop()
        if restarted is not None:
            restarted.stop()


async def test_a_hung_database_fails_within_the_timeout(tmp_path: Path) -> None:
    """A server that stops answering (frozen, not gone) holds no request past the timeout."""
    server = EmbeddedMongo(tmp_path / "db").start()
    settings = make_settings(server.uri, "hung", tmp_path, mongodb_timeout_ms=TIMEOUT_MS)
    assert server.pid is not None
    try:
        async with app_client(settings) as client:
            headers = await sign_up(client, "eric")
            os.kill(server.pid, signal.SIGSTOP)
            try:
                for _ in range(2):
                    response, elapsed = await timed(client, "GET", "/user/me", headers=headers)
                    assert_unavailable(response, elapsed)
            finally:
                os.kill(server.pid, signal.SIGCONT)
            deadline = time.monotonic() + RECOVERY_SECONDS
            while (await client.get("/user/me", headers=headers)).status_code != 200:
                assert time.monotonic() < deadline, "simplechat did not recover"
                await asyncio.sleep(0.1)
    finally:
        server.stop()


async def test_the_embedded_database_the_app_started_comes_back_by_itself(tmp_path: Path) -> None:
    """No MONGODB_URI: the lifespan starts the embedded database and supervises it; killed, it is
    started again on the same file and port, and the app serves again without a restart."""
    settings = make_settings(None, "supervised", tmp_path / "data", mongodb_timeout_ms=TIMEOUT_MS)
    async with app_client(settings) as client:
        headers = await sign_up(client, "eric")
        first = await client.post("/llm/message", json={"message": "before"}, headers=headers)
        assert first.status_code == 200
        pid_file = tmp_path / "data" / "nx-27017.pid"
        killed = int(pid_file.read_text())
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + RECOVERY_SECONDS
        while True:
            response = await client.post("/llm/message", json={"message": "after"}, headers=headers)
            if response.status_code == 200:
                break
            assert response.status_code == 503, response.text
            assert time.monotonic() < deadline, "the embedded database did not come back"
            await asyncio.sleep(0.1)
        assert int(pid_file.read_text()) != killed
        history = (await client.get("/user/history/10", headers=headers)).json()
        texts = [e["text"] for e in history if e["type"] == "user"]
        assert texts[0] == "before"
        assert texts[-1] == "after"
