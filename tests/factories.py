"""Helpers the tests share: settings, the app behind an ASGI client, accounts, free ports.

Plain functions and classes, imported where used (fixtures stay in the conftest files).
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pymongo import AsyncMongoClient, MongoClient, monitoring
from starlette.types import ASGIApp, Receive, Scope, Send

from simplechat.app import create_app
from simplechat.billing.balances import Balances
from simplechat.billing.codes import CodeService, RedeemPolicy
from simplechat.billing.repository import CodeRepository, CreditRepository, UsageRepository
from simplechat.billing.rules import to_units
from simplechat.billing.service import BillingPolicy, BillingService
from simplechat.config import Settings

SEED = "hi, my name is Eric"
TEST_JWT_SECRET = "test-secret-" + "x" * 40


def make_settings(
    mongo_uri: str | None, database_name: str, data_dir: Path, **overrides: Any
) -> Settings:
    """Settings from code only; `mongo_uri` None: the app starts its own embedded database."""
    values: dict[str, Any] = {
        "mongodb_uri": mongo_uri,
        "mongodb_db": database_name,
        "data_dir": data_dir,
        "jwt_secret": TEST_JWT_SECRET,
        "openrouter_api_key": None,
        "dashscope_api_key": None,
        "openai_base_url": None,
        "models_file": None,
        "ip_limit": "1000/minute",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def upstream_settings(base: Settings, **overrides: Any) -> Settings:
    """`base` with quick retries and short timeouts, for tests against a fake upstream."""
    values = base.model_dump()
    values.update(upstream_backoff_seconds=0.01, upstream_max_retries=2, read_timeout_seconds=2.0)
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class RecordedSleeps:
    """A `sleep` for RetryPolicy that records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _per_request_state(app: ASGIApp) -> ASGIApp:
    """Give each request a shallow copy of the lifespan state, as uvicorn does (asgi-lifespan
    hands every request the same dict, so per-request marks would leak between requests)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "state" in scope:
            scope = {**scope, "state": dict(scope["state"])}
        await app(scope, receive, send)

    return wrapped


class app_client:
    """The app, started with its lifespan, behind an httpx client (ASGI transport)."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self._manager = LifespanManager(_per_request_state(self.app), startup_timeout=30)

    async def __aenter__(self) -> httpx.AsyncClient:
        manager = await self._manager.__aenter__()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(manager.app), base_url="http://testserver"
        )
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._manager.__aexit__(*exc)


async def sign_up(
    client: httpx.AsyncClient, username: str, password: str = "password123"
) -> dict[str, str]:
    """Create a user, log in, and return the Authorization header."""
    response = await client.post("/user/", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    response = await client.post("/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def promote_in_database(settings: Settings, username: str) -> None:
    """Make an existing user an admin the way RoleRepository.promote does (the role, then the
    admin count), straight in the database: for tests whose app runs in-process, where the
    command line (which opens its own database client) cannot run."""
    assert settings.mongodb_uri is not None
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri.get_secret_value())
    try:
        database = client[settings.mongodb_db]
        result = database.users.update_one(
            {"username": username, "role": "user"}, {"$set": {"role": "admin"}}
        )
        assert result.matched_count == 1, f"no normal user {username!r}"
        database.role_counts.update_one({"_id": "admin"}, {"$inc": {"n": 1}}, upsert=True)
    finally:
        client.close()


async def sign_up_admin(
    client: httpx.AsyncClient, settings: Settings, username: str, password: str = "password123"
) -> dict[str, str]:
    """Create a user, make them an admin, and return their Authorization header."""
    response = await client.post("/user/", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    promote_in_database(settings, username)
    return await log_in(client, username, password)


async def log_in(
    client: httpx.AsyncClient, username: str, password: str = "password123"
) -> dict[str, str]:
    response = await client.post("/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass(frozen=True)
class Served:
    base: str
    process: subprocess.Popen[bytes]


@contextmanager
def running_server(
    data_dir: Path,
    *,
    mongo_uri: str | None,
    database: str = "simplechat",
    workers: int = 2,
    **env: str,
) -> Iterator[Served]:
    """`simplechat serve --workers N` as a real process (MONGODB_URI, or None for the embedded
    database in `data_dir`), stopped afterwards."""
    port = free_port()
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and "BASE_URL" not in k and not k.startswith("SIMPLECHAT_")
    }
    environment.pop("MONGODB_URI", None)
    if mongo_uri is not None:
        environment.update(MONGODB_URI=mongo_uri)
    environment.update(
        SIMPLECHAT_MONGODB_DB=database,
        SIMPLECHAT_JWT_SECRET=TEST_JWT_SECRET,
        SIMPLECHAT_DATA_DIR=str(data_dir),
        SIMPLECHAT_IP_LIMIT="1000/minute",
        SIMPLECHAT_LOG_LEVEL="warning",
    )
    environment.update(env)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simplechat",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=environment,
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("simplechat serve did not come up")
        yield Served(base, process)
    finally:
        process.terminate()
        process.wait(timeout=15)


@contextmanager
def serve(
    mongo_uri: str, database: str, data_dir: Path, workers: int = 2, **env: str
) -> Iterator[str]:
    """The base URL of `simplechat serve --workers N` on the test database."""
    with running_server(
        data_dir, mongo_uri=mongo_uri, database=database, workers=workers, **env
    ) as served:
        yield served.base


async def stored_documents(
    settings: Settings, collection: str, query: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Documents as the database holds them (to check what the API does not show)."""
    assert settings.mongodb_uri is not None
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        return await client[settings.mongodb_db][collection].find(query or {}).to_list()
    finally:
        await client.close()


async def make_admin(settings: Settings, username: str) -> None:
    """Give an existing account the admin role, straight in the database."""
    promote_in_database(settings, username)


class Clock:
    """A clock tests move by hand (services take it as `clock`); with `tick`, each reading
    also moves it on by that much (so records made one after another are ordered)."""

    def __init__(self, now: datetime, *, tick: timedelta = timedelta(0)) -> None:
        self.now = now
        self.tick = tick

    def __call__(self) -> datetime:
        now = self.now
        self.now += self.tick
        return now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def billing_services(
    clock: Clock,
    *,
    enabled: bool = True,
    signup: str = "0",
    hold_timeout: int = 900,
    redeem_attempts: int = 10,
) -> "Billing":
    """The billing and redeem-code services on the current database, with `clock`."""
    credits, codes = CreditRepository(), CodeRepository()
    balances = Balances(
        credits=credits, codes=codes, signup_units=to_units(Decimal(signup)), clock=clock
    )
    billing = BillingService(
        balances=balances,
        credits=credits,
        codes=codes,
        usage=UsageRepository(),
        policy=BillingPolicy(enabled, hold_timeout, ZoneInfo("UTC")),
        clock=clock,
    )
    redeem = RedeemPolicy(enabled=enabled, attempts=redeem_attempts, window_seconds=3600)
    code_service = CodeService(
        codes=codes, credits=credits, balances=balances, policy=redeem, clock=clock
    )
    return Billing(billing, code_service, balances)


@dataclass(frozen=True)
class Billing:
    service: BillingService
    codes: CodeService
    balances: Balances


def promote_to_admin(mongo_uri: str, database_name: str, username: str) -> None:
    """`promote_in_database` by URI and database name."""
    settings = make_settings(mongo_uri, database_name, Path("."))
    promote_in_database(settings, username)


class CommandCounter(monitoring.CommandListener):
    """Database commands by command and collection (as scripts/bench counts round trips),
    counted only while `enabled`."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.enabled = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.enabled:
            return
        target = event.command.get(event.command_name)
        if event.command_name == "getMore":
            target = event.command.get("collection")
        self.counts[f"{event.command_name} {target}"] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


COMMANDS = CommandCounter()
monitoring.register(COMMANDS)  # for every client made from now on; counts only when enabled


def parse_sse(body: str) -> list[dict[str, Any]]:
    """Events as {"id", "event", "data"} (comments dropped)."""
    events = []
    for block in body.strip().split("\n\n"):
        event: dict[str, Any] = {"event": "message"}
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            event[name] = value
        if "data" in event:
            event["data"] = (
                event["data"] if event["data"] == "[DONE]" else json.loads(event["data"])
            )
            events.append(event)
    return events


async def new_conversation(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    created = await client.post("/conversations", json={}, headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def wait_finished(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: str, seconds: float = 10
) -> dict[str, Any]:
    for _ in range(int(seconds / 0.05)):
        task = (await client.get(f"/tasks/{task_id}", headers=headers)).json()
        if task["status"] not in ("queued", "running"):
            return dict(task)
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish: {task}")
