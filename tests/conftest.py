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
from pymongo import AsyncMongoClient

from simplechat.config import Settings
from simplechat.kit.embedded import EmbeddedMongo
from tests.factories import app_client, make_settings, sign_up


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


@pytest.fixture
def settings(mongo_uri: str, database_name: str, tmp_path: Path) -> Settings:
    return make_settings(mongo_uri, database_name, tmp_path)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as http:
        yield http


@pytest.fixture
async def auth_headers(client: httpx.AsyncClient) -> dict[str, str]:
    return await sign_up(client, "eric")
