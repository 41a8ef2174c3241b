"""Shared fixtures: one test database server per session, a fresh database per test.

The server is the embedded MongoDB-wire server simplechat uses by default, or the real MongoDB
named by MONGODB_URI when that is set. Nothing here mocks the database.
"""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pymongo import AsyncMongoClient
from starlette.types import ASGIApp, Receive, Scope, Send

from simplechat.app import create_app
from simplechat.config import Settings
from simplechat.storage.embedded import EmbeddedMongo

TEST_JWT_SECRET = "test-secret-" + "x" * 40


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("MONGODB_URI")
    if configured:
        yield configured
        return
    server = EmbeddedMongo(tmp_path_factory.mktemp("embedded-mongo")).start()
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture
async def database_name(mongo_uri: str) -> AsyncIterator[str]:
    name = f"simplechat_test_{uuid.uuid4().hex[:12]}"
    yield name
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


def make_settings(mongo_uri: str, database_name: str, data_dir: Path, **overrides: Any) -> Settings:
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


@pytest.fixture
def settings(mongo_uri: str, database_name: str, tmp_path: Path) -> Settings:
    return make_settings(mongo_uri, database_name, tmp_path)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as http:
        yield http


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


@pytest.fixture
async def auth_headers(client: httpx.AsyncClient) -> dict[str, str]:
    return await sign_up(client, "eric")
