"""`simplechat serve --workers 2` as a real multi-process server: limits hold across workers."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.factories import free_port, serve, sign_up

PARALLEL = 24


def wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    pytest.fail("simplechat serve did not come up")


async def burst_of_messages(base: str, username: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await client.post("/user/", json={"username": username, "password": "password123"})
        token = (
            await client.post("/token", data={"username": username, "password": "password123"})
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        limits = httpx.Limits(max_connections=PARALLEL)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as parallel:
            return await asyncio.gather(
                *(
                    parallel.post("/llm/message", json={"message": f"hi {i}"}, headers=headers)
                    for i in range(PARALLEL)
                )
            )


def test_burst_limit_holds_across_two_workers(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    with serve(mongo_uri, database_name, tmp_path) as base:
        responses = asyncio.run(burst_of_messages(base, "eric"))
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == 3, statuses
        refused = [r for r in responses if r.status_code != 200]
        assert all(r.status_code == 401 for r in refused)
        assert {r.json()["code"] for r in refused} == {"burst_limit"}
        assert all(r.headers["Retry-After"] for r in refused)
        with httpx.Client(base_url=base) as client:
            token = client.post(
                "/token", data={"username": "eric", "password": "password123"}
            ).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            assert client.get("/user/status", headers=headers).json()["chat_cnt"] == 3
            assert len(client.get("/user/history/100", headers=headers).json()) == 6


def test_daily_limit_holds_across_two_workers(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    env = {"SIMPLECHAT_DAILY_LIMIT": "5", "SIMPLECHAT_BURST_LIMIT": "100"}
    with serve(mongo_uri, database_name, tmp_path, **env) as base:
        responses = asyncio.run(burst_of_messages(base, "eric"))
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == 5, statuses
        assert {r.json()["code"] for r in responses if r.status_code != 200} == {"daily_limit"}


def test_plain_serve_on_the_embedded_default_keeps_accounts_across_restarts(tmp_path: Path) -> None:
    """The README's `simplechat serve`: one worker, no configuration, the embedded database."""
    port = free_port()
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SIMPLECHAT_", "MONGODB_")) and not k.endswith("_API_KEY")
    }
    environment["SIMPLECHAT_LOG_LEVEL"] = "warning"

    def run() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "simplechat", "serve", "--port", str(port)],
            env=environment,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_healthy() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        pytest.fail("simplechat serve did not come up")

    base = f"http://127.0.0.1:{port}"
    process = run()
    try:
        wait_healthy()
        created = httpx.post(f"{base}/user/", json={"username": "eric", "password": "password123"})
        assert created.status_code == 201
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert (tmp_path / ".simplechat" / "simplechat.db").exists()
    process = run()
    try:
        wait_healthy()
        token = httpx.post(f"{base}/token", data={"username": "eric", "password": "password123"})
        assert token.status_code == 200
        me = httpx.get(
            f"{base}/user/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )
        assert me.json()["username"] == "eric"
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_parallel_first_messages_make_one_default_conversation_across_two_workers(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    """The default conversation is created by the first message, whichever worker takes it:
    parallel first messages at two workers agree on one (its id is the user's, unique)."""
    env = {"SIMPLECHAT_BURST_LIMIT": "100", "SIMPLECHAT_DAILY_LIMIT": "100"}
    with serve(mongo_uri, database_name, tmp_path, **env) as base:
        responses = asyncio.run(burst_of_messages(base, "eric"))
        assert [r.status_code for r in responses] == [200] * PARALLEL
        with httpx.Client(base_url=base) as client:
            token = client.post(
                "/token", data={"username": "eric", "password": "password123"}
            ).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            listed = client.get("/conversations", headers=headers).json()
            me = client.get("/user/me", headers=headers).json()
    assert listed["total"] == 1
    (conversation,) = listed["items"]
    assert (conversation["id"], conversation["default"]) == (me["id"], True)
    assert conversation["message_count"] == 2 * PARALLEL


def failed_start(tmp_path: Path, **env: str) -> tuple[int, str]:
    """`simplechat serve --workers 2` that cannot start: its exit status and stderr."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SIMPLECHAT_", "MONGODB_")) and not k.endswith("_API_KEY")
    }
    environment.update(SIMPLECHAT_DATA_DIR=str(tmp_path / "data"), **env)
    command = [sys.executable, "-m", "simplechat", "serve", "--port", str(free_port())]
    done = subprocess.run(
        [*command, "--workers", "2"], env=environment, cwd=tmp_path, capture_output=True, timeout=60
    )
    return done.returncode, done.stderr.decode()


def test_an_invalid_models_file_stops_serve_with_one_line(tmp_path: Path) -> None:
    models = tmp_path / "models.json"
    models.write_text('[{"name": "local", "provider": "openai"}]')
    code, err = failed_start(tmp_path, SIMPLECHAT_MODELS_FILE=str(models))
    assert code == 2
    [line] = [line for line in err.splitlines() if line.startswith("simplechat:")]
    assert "Invalid models file" in line
    assert "upstream_id: Field required" in line
    assert "Traceback" not in err


def test_an_unreachable_database_stops_serve_non_zero(tmp_path: Path) -> None:
    uri = f"mongodb://eric:{'s3cret-pw'}@127.0.0.1:{free_port()}/"
    code, err = failed_start(tmp_path, MONGODB_URI=uri, SIMPLECHAT_MONGODB_TIMEOUT_MS="300")
    assert code == 3
    assert "did not answer within 300 ms" in err
    assert "s3cret-pw" not in err
    assert "Traceback" not in err


KILL_AFTER_SECONDS = 1.5
RECOVERY_SECONDS = 10.0
TRAFFIC_CLIENTS = 4
SUCCESSES_AFTER_RECOVERY = 20

Sent = list[tuple[float, str, int]]  # (when it was answered, text, status)


async def chat_until(
    base: str, headers: dict[str, str], stop: asyncio.Event, n: int, sent: Sent
) -> list[str]:
    """User n sends messages back to back until `stop` (each outcome goes into `sent`), then
    reads its stored messages back."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        i = 0
        while not stop.is_set():
            text = f"user {n} message {i}"
            response = await client.post("/llm/message", json={"message": text}, headers=headers)
            if response.status_code != 200:
                assert response.status_code == 503, response.text
                assert response.json()["code"] == "database_unavailable"
            sent.append((time.monotonic(), text, response.status_code))
            i += 1
        history = await client.get("/user/history/1000", headers=headers)
        assert history.status_code == 200
        return [entry["text"] for entry in history.json() if entry["type"] == "user"]


async def kill_under_traffic(base: str, database_pid: int) -> tuple[float, Sent, list[str]]:
    """Chat, SIGKILL the database, chat on until it is back; then read the histories."""
    sent: Sent = []
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        users = [await sign_up(client, f"user{n}") for n in range(TRAFFIC_CLIENTS)]
    clients = [
        asyncio.create_task(chat_until(base, headers, stop, n, sent))
        for n, headers in enumerate(users)
    ]
    await asyncio.sleep(KILL_AFTER_SECONDS)
    killed_at = time.monotonic()
    os.kill(database_pid, signal.SIGKILL)
    # Until SUCCESSES_AFTER_RECOVERY answers in a row since the last failure: the two workers
    # find the new database each on its own, so for a moment one may answer and the other not.
    while time.monotonic() - killed_at < RECOVERY_SECONDS + 5:
        outage_over = max((s[0] for s in sent if s[2] != 200), default=killed_at)
        back = [s for s in sent if s[0] > outage_over and s[2] == 200]
        if len(back) >= SUCCESSES_AFTER_RECOVERY:
            break
        await asyncio.sleep(0.1)
    stop.set()
    stored = [text for texts in await asyncio.gather(*clients) for text in texts]
    return killed_at, sent, stored


def test_embedded_database_killed_under_traffic_comes_back(tmp_path: Path) -> None:
    """`serve --workers 2` on the embedded database; SIGKILL it while messages flow: service
    resumes by itself within seconds, and every message that got a 200 is in the history."""
    port = free_port()
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SIMPLECHAT_", "MONGODB_")) and not k.endswith("_API_KEY")
    }
    environment.update(
        SIMPLECHAT_DATA_DIR=str(tmp_path / "data"),
        SIMPLECHAT_LOG_LEVEL="warning",
        SIMPLECHAT_MONGODB_TIMEOUT_MS="1000",
        SIMPLECHAT_BURST_LIMIT="100",
        SIMPLECHAT_BURST_WINDOW_SECONDS="1",
        SIMPLECHAT_DAILY_LIMIT="100000",
        SIMPLECHAT_HISTORY_MAX_ENTRIES="1000",  # every message of the run, read back
        SIMPLECHAT_IP_LIMIT="1000/minute",
    )
    command = [sys.executable, "-m", "simplechat", "serve", "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(
        command, env=environment, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    pid_file = tmp_path / "data" / "nx-27017.pid"
    try:
        wait_healthy(base)
        database_pid = int(pid_file.read_text())
        killed_at, sent, stored = asyncio.run(kill_under_traffic(base, database_pid))
        assert int(pid_file.read_text()) != database_pid  # a new database process
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode == 0
    acknowledged = [text for _, text, status in sent if status == 200]
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged messages lost: {sorted(missing)[:5]}"
    failed = [when for when, _, status in sent if status != 200]
    assert all(when > killed_at for when in failed)
    outage_over = max(failed, default=killed_at)
    back = [when for when, _, status in sent if when > outage_over and status == 200]
    timeline = [
        (round(when - killed_at, 2), status) for when, _, status in sent if when > killed_at
    ]
    assert len(back) >= SUCCESSES_AFTER_RECOVERY, f"service did not come back: {timeline}"
    assert back[0] - killed_at < RECOVERY_SECONDS
