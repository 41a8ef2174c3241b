"""KeyService against the test database: the daily count follows the day, a cap changed
while a key is in use is the one that counts, and give-back never goes below zero."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from simplechat.keys.errors import ApiKeyRefused, ModelNotAllowed
from simplechat.keys.repository import ApiKeyRepository
from simplechat.keys.service import KeyService
from simplechat.keys.types import KeyCaps, KeyChanges
from simplechat.kit.db import open_database
from simplechat.kit.errors import InvalidInput, RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def keys(mongo_uri: str, database_name: str) -> AsyncIterator[tuple[KeyService, Clock]]:
    client, _ = await open_database(mongo_uri, database_name, timeout_ms=5000)
    clock = Clock()
    try:
        yield KeyService(repo=ApiKeyRepository(), tz=ZoneInfo("UTC"), clock=clock), clock
    finally:
        await client.close()


async def test_the_count_starts_again_on_a_new_day(keys: tuple[KeyService, Clock]) -> None:
    service, clock = keys
    created = await service.create("u1", "k", KeyCaps(daily_limit=1))
    grant = await service.grant(created.secret)
    await service.charge(grant, "mock")
    with pytest.raises(RateLimited) as refused:
        await service.charge(grant, "mock")
    assert refused.value.limit_code == "key_daily_limit"
    assert refused.value.extra["retry_after"] == 3600  # to midnight
    clock.now += timedelta(hours=1, minutes=1)
    charge = await service.charge(grant, "mock")
    assert charge.day == date(2026, 11, 26).toordinal()
    key = await service.get("u1", created.key.id)
    assert (key.used_today, key.uses) == (1, 2)


async def test_a_first_burst_of_a_day_is_counted_whole(keys: tuple[KeyService, Clock]) -> None:
    """Parallel first requests of a day (a new key's first burst, or just after midnight): the
    one that starts the day wins, and the others count on the day it started, none refused."""
    service, clock = keys
    for caps in (KeyCaps(), KeyCaps(daily_limit=30)):
        created = await service.create("u1", "k", caps)
        grant = await service.grant(created.secret)
        charges = await asyncio.gather(*(service.charge(grant, "mock") for _ in range(20)))
        assert len(charges) == 20
        clock.now += timedelta(days=1)  # the next day's first burst too
        await asyncio.gather(*(service.charge(grant, "mock") for _ in range(20)))
        key = await service.get("u1", created.key.id)
        assert (key.used_today, key.uses) == (20, 40)
        clock.now -= timedelta(days=1)


async def test_a_changed_cap_counts_and_give_back_stops_at_zero(
    keys: tuple[KeyService, Clock],
) -> None:
    service, _ = keys
    created = await service.create("u1", "k", KeyCaps(daily_limit=1))
    grant = await service.grant(created.secret)  # saw cap 1
    await service.update(
        "u1", created.key.id, KeyChanges(daily_limit=2, fields=frozenset({"daily_limit"}))
    )
    first = await service.charge(grant, "mock")
    await service.charge(grant, "mock")
    with pytest.raises(RateLimited):
        await service.charge(grant, "mock")
    for _ in range(3):
        await service.give_back(first)
    assert (await service.get("u1", created.key.id)).used_today == 0


async def test_refusals(keys: tuple[KeyService, Clock]) -> None:
    service, clock = keys
    with pytest.raises(InvalidInput):
        await service.create("u1", "k", KeyCaps(expires_at=clock.now))
    created = await service.create(
        "u1", "k", KeyCaps(models=("mock",), expires_at=clock.now + timedelta(minutes=5))
    )
    grant = await service.grant(created.secret)
    with pytest.raises(ModelNotAllowed):
        await service.charge(grant, "qwen-plus")
    clock.now += timedelta(minutes=6)
    with pytest.raises(ApiKeyRefused):
        await service.charge(grant, "mock")  # expired while in use
    with pytest.raises(ApiKeyRefused):
        await service.grant(created.secret)
    with pytest.raises(ApiKeyRefused):
        await service.grant("sk-sc-unknown")
