"""Billing's services against the real test database, with time passed in (never slept)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from beanie import PydanticObjectId

from simplechat.billing.types import AdminActor
from simplechat.documents.users import UserDoc
from simplechat.kit.db import open_database

T0 = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
USER = "6b01b59ab1945f3903016ee2"
OTHER = "6b01b59ab1945f3903016ee3"
ADMIN_ID = "6b01b59ab1945f3903016ee4"
ADMIN = AdminActor(ADMIN_ID, "root")


@pytest.fixture
async def database(mongo_uri: str, database_name: str) -> AsyncIterator[None]:
    client, _ = await open_database(mongo_uri, database_name, timeout_ms=5000)
    for user_id, name in ((USER, "eric"), (OTHER, "mallory"), (ADMIN_ID, "root")):
        await UserDoc(id=PydanticObjectId(user_id), username=name, password_hash="x").insert()
    try:
        yield
    finally:
        await client.close()
