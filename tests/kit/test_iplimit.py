"""The per-IP limit storage on the test database: exact under parallel hits, windows that
expire and restart, and the `limits` strategy on top of it."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import limits
import pytest
from limits.aio.strategies import FixedWindowRateLimiter
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from simplechat.kit.iplimit import MongoWindowStorage

Collection = AsyncCollection[dict[str, Any]]


@pytest.fixture
async def collection(mongo_uri: str, database_name: str) -> AsyncIterator[Collection]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        yield client[database_name]["ip_limits"]
    finally:
        await client.close()


@pytest.fixture
def storage(collection: Collection) -> MongoWindowStorage:
    return MongoWindowStorage(lambda: collection)


async def test_parallel_hits_are_counted_exactly(storage: MongoWindowStorage) -> None:
    counts = await asyncio.gather(*(storage.incr("k", 60) for _ in range(40)))
    assert sorted(counts) == list(range(1, 41))
    assert await storage.get("k") == 40
    assert time.time() + 55 < await storage.get_expiry("k") <= time.time() + 60


async def test_an_expired_window_starts_again(storage: MongoWindowStorage) -> None:
    assert await storage.incr("k", 1) == 1
    assert await storage.incr("k", 1) == 2
    await asyncio.sleep(1.1)
    assert await storage.get("k") == 0
    results = await asyncio.gather(*(storage.incr("k", 1) for _ in range(10)))
    assert sorted(results) == list(range(1, 11))


async def test_clear_and_reset(storage: MongoWindowStorage) -> None:
    await storage.incr("a", 60)
    await storage.incr("b", 60)
    await storage.clear("a")
    assert await storage.get("a") == 0
    assert await storage.reset() == 1
    assert await storage.check()


async def test_the_fixed_window_strategy_on_it(storage: MongoWindowStorage) -> None:
    strategy = FixedWindowRateLimiter(storage)
    item = limits.parse("5/minute")
    results = await asyncio.gather(*(strategy.hit(item, "token", "10.0.0.1") for _ in range(12)))
    assert results.count(True) == 5
    assert await strategy.hit(item, "token", "10.0.0.2")  # another address
    assert await strategy.hit(item, "sign_up", "10.0.0.1")  # another endpoint
    stats = await strategy.get_window_stats(item, "token", "10.0.0.1")
    assert stats.remaining == 0
    assert stats.reset_time > time.time()
