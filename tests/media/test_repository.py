"""The media counters and results against the real test database (embedded or MongoDB)."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from simplechat.kit.db import open_database
from simplechat.media.repository import DayUsage, MediaRepository
from simplechat.media.types import MediaKind, MediaTotals, MediaUsage, Overrides

USER = "6b01b59ab1945f3903016ee2"
OTHER = "6b01b59ab1945f3903016ee3"
DAY = "2026-11-21"


@pytest.fixture
async def repo(mongo_uri: str, database_name: str) -> AsyncIterator[MediaRepository]:
    client, _ = await open_database(mongo_uri, database_name, timeout_ms=5000)
    try:
        yield MediaRepository()
    finally:
        await client.close()


async def count(repo: MediaRepository, usage: MediaUsage, user: str = USER) -> DayUsage | None:
    return await repo.count(
        user_id=user, day=DAY, usage=usage, speech_limit_ms=10_000, picture_limit=3
    )


async def test_parallel_pictures_count_exactly_the_quota(repo: MediaRepository) -> None:
    results = await asyncio.gather(*(count(repo, MediaUsage(pictures=1)) for _ in range(12)))
    assert sum(r is not None for r in results) == 3
    assert sorted(r.pictures for r in results if r is not None) == [1, 2, 3]
    assert await repo.day_usage(user_id=USER, day=DAY) == DayUsage(0, 3)


async def test_speech_counts_milliseconds_up_to_the_limit(repo: MediaRepository) -> None:
    results = await asyncio.gather(*(count(repo, MediaUsage(speech_ms=3_000)) for _ in range(8)))
    assert sum(r is not None for r in results) == 3  # 9 s of 10
    assert await count(repo, MediaUsage(speech_ms=1_000)) == DayUsage(10_000, 0)
    assert await count(repo, MediaUsage(speech_ms=1)) is None
    assert await count(repo, MediaUsage(pictures=1)) == DayUsage(10_000, 1)  # the other quota


async def test_uncount_gives_back_and_days_and_users_are_apart(repo: MediaRepository) -> None:
    assert await count(repo, MediaUsage(speech_ms=4_000)) is not None
    await repo.uncount(user_id=USER, day=DAY, usage=MediaUsage(speech_ms=4_000))
    assert await repo.day_usage(user_id=USER, day=DAY) == DayUsage(0, 0)
    await repo.uncount(user_id=USER, day=DAY, usage=MediaUsage(speech_ms=4_000))  # never < 0
    assert await repo.day_usage(user_id=USER, day=DAY) == DayUsage(0, 0)
    assert await count(repo, MediaUsage(pictures=1), user=OTHER) == DayUsage(0, 1)
    assert await repo.day_usage(user_id=USER, day="2026-11-22") == DayUsage(0, 0)


async def test_overrides_round_trip(repo: MediaRepository) -> None:
    assert await repo.overrides(USER) == Overrides()
    await repo.set_overrides(USER, Overrides(speech_seconds_daily=1800, pictures_daily=None))
    assert await repo.overrides(USER) == Overrides(1800, None)
    await repo.set_overrides(USER, Overrides(None, 0))
    assert await repo.overrides(USER) == Overrides(None, 0)
    assert await repo.overrides(OTHER) == Overrides()


async def test_results_are_stored_and_totalled_per_user(repo: MediaRepository) -> None:
    for ms in (1_500, 2_500):
        await repo.record(
            result_id=repo.new_id(),
            user_id=USER,
            kind=MediaKind.SPEECH,
            engine="pocketsphinx",
            size_bytes=ms * 32,
            duration_ms=ms,
            text="hello",
        )
    await repo.record(
        result_id=repo.new_id(),
        user_id=USER,
        kind=MediaKind.PICTURE,
        engine="rapidocr",
        size_bytes=900,
        width=40,
        height=20,
        text="TOTAL",
        cost=5_000,
    )
    assert await repo.totals(USER) == MediaTotals(recordings=2, speech_ms=4_000, pictures=1)
    assert await repo.totals(OTHER) == MediaTotals(0, 0, 0)
