"""Database round trips per chat message, counted by a pymongo CommandListener, and what
each one costs the embedded server.

The app runs in this process (ASGI, real embedded database, the fake upstream over HTTP), so
every command its one MongoClient sends is seen: a round trip is one command (getMore and
killCursors included). Messages are sent one after the other, and the database process's CPU
time (the scheduler's account, in nanoseconds) over them gives its cost per message. What each
command costs it on its own is measured by `dbcost`, one command at a time.
"""

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from pymongo import monitoring

from bench_suite.procstat import cpu_ns
from bench_suite.stack import BENCH_MODEL, JWT_SECRET, PASSWORD, Service, write_models_file
from simplechat.app import create_app
from simplechat.config import Settings

WARMUP_MESSAGES = 55  # per user: 110 stored entries, more than the history cap reads
MEASURED_MESSAGES = 100
USERS = 20


class CommandCounter(monitoring.CommandListener):
    """Counts commands by name and collection, and adds up their round-trip times."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.micros: Counter[str] = Counter()
        self._names: dict[int, str] = {}
        self.enabled = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.enabled:
            return
        command = event.command
        target = command.get(event.command_name)
        if event.command_name == "getMore":
            target = command.get("collection")
        name = f"{event.command_name} {target}" if isinstance(target, str) else event.command_name
        self.counts[name] += 1
        self._names[event.request_id] = name

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        name = self._names.pop(event.request_id, None)
        if name is not None:
            self.micros[name] += event.duration_micros

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._names.pop(event.request_id, None)


def _settings(database_uri: str, upstream: Service, workdir: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        mongodb_uri=database_uri,
        mongodb_db="bench_roundtrips",
        data_dir=workdir / "roundtrips",
        jwt_secret=JWT_SECRET,
        openrouter_api_key=None,
        dashscope_api_key=None,
        openai_base_url=upstream.base_url + "/v1",
        models_file=write_models_file(workdir),
        default_model=BENCH_MODEL,
        daily_limit=1_000_000,
        burst_limit=30,  # as stack.simplechat_env (why there)
        burst_window_seconds=1,
        ip_limit="100000/minute",
    )


async def _count(settings: Settings, stream: bool, db_pid: int | None) -> dict[str, Any]:
    listener = CommandCounter()
    monitoring.register(listener)  # applies to the clients created from now on
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            name = "stream" if stream else "json"
            users = []
            for n in range(USERS):  # in turn, so that no one goes over the burst limit
                credentials = {"username": f"roundtrips-{name}-{n}", "password": PASSWORD}
                await client.post("/user/", json=credentials)
                token = (await client.post("/token", data=credentials)).json()["access_token"]
                users.append({"Authorization": f"Bearer {token}"})
            body: dict[str, Any] = {"message": "how many round trips is this?"}
            if stream:
                body["stream"] = True

            async def chat(n: int) -> None:
                headers = users[n % USERS]
                response = await client.post("/llm/message", json=body, headers=headers)
                assert response.status_code == 200, response.text

            for n in range(WARMUP_MESSAGES * USERS):
                await chat(n)
            listener.enabled = True
            db_before = cpu_ns(db_pid) if db_pid else 0
            for n in range(MEASURED_MESSAGES):
                await chat(n)
            db_ms = (cpu_ns(db_pid) - db_before) / 1e6 / MEASURED_MESSAGES if db_pid else None
            listener.enabled = False
    per_message = {k: v / MEASURED_MESSAGES for k, v in sorted(listener.counts.items())}
    ms_per_message = {k: v / 1000 / MEASURED_MESSAGES for k, v in sorted(listener.micros.items())}
    return {
        "total": sum(per_message.values()),
        "by_command": per_message,
        "ms_by_command": ms_per_message,
        "total_ms": sum(ms_per_message.values()),
        "db_cpu_ms": db_ms,
    }


def count_round_trips(
    database_uri: str,
    upstream: Service,
    workdir: Path,
    *,
    stream: bool = False,
    db_pid: int | None = None,
) -> dict[str, Any]:
    """Commands per chat message (JSON or streamed), in total and by command and collection,
    with the database CPU each costs when `db_pid` is given."""
    return asyncio.run(_count(_settings(database_uri, upstream, workdir), stream, db_pid))
