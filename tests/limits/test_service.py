"""The per-user limits against the real test database, with time passed in (never slept)."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from beanie import PydanticObjectId

from simplechat.documents.users import UserDoc
from simplechat.kit.db import open_database
from simplechat.kit.errors import InvalidInput, NotAuthenticated, NotFound, RateLimited
from simplechat.limits.repository import LimitRepository
from simplechat.limits.rules import LimitPolicy, LimitState, to_ms
from simplechat.limits.service import Admission, LimitService

USER = "6b01b59ab1945f3903016ee2"
OTHER = "6b01b59ab1945f3903016ee3"
T0 = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
async def database(mongo_uri: str, database_name: str) -> AsyncIterator[None]:
    client, _ = await open_database(mongo_uri, database_name, timeout_ms=5000)
    for user_id, name in ((USER, "eric"), (OTHER, "mallory")):
        await UserDoc(id=PydanticObjectId(user_id), username=name, password_hash="x").insert()
    try:
        yield
    finally:
        await client.close()


def service(daily: int = 20, burst: int = 3, window: int = 30, tz: str = "UTC") -> LimitService:
    policy = LimitPolicy(
        daily=daily, burst=burst, burst_window_seconds=window, timezone=ZoneInfo(tz)
    )
    return LimitService(repo=LimitRepository(), policy=policy)


async def admitted(limits: LimitService, when: datetime, user: str = USER) -> bool:
    try:
        await limits.admit(user, when)
    except RateLimited:
        return False
    return True


@pytest.mark.usefixtures("database")
class TestBurstWindow:
    async def test_sliding_window_edges(self) -> None:
        limits = service()
        for offset in (0, 10, 20):
            assert await admitted(limits, T0 + timedelta(seconds=offset))
        assert not await admitted(limits, T0 + timedelta(seconds=29.999))
        # exactly one window after the first message, its slot is free again
        assert await admitted(limits, T0 + timedelta(seconds=30))
        assert not await admitted(limits, T0 + timedelta(seconds=39))
        assert await admitted(limits, T0 + timedelta(seconds=40))

    async def test_sliding_not_fixed_buckets(self) -> None:
        """Three messages at 0:29 and three at 0:31 would pass fixed 30 s buckets; not here."""
        limits = service()
        for _ in range(3):
            assert await admitted(limits, T0 + timedelta(seconds=29))
        assert not await admitted(limits, T0 + timedelta(seconds=31))
        assert await admitted(limits, T0 + timedelta(seconds=59))

    async def test_refusal_says_which_limit_and_when(self) -> None:
        limits = service()
        for _ in range(3):
            await limits.admit(USER, T0)
        with pytest.raises(RateLimited) as refused:
            await limits.admit(USER, T0 + timedelta(seconds=12))
        error = refused.value
        assert error.error_code == "burst_limit"
        assert error.status_code == 429  # the app answers the message limits with 401 (kit.http)
        assert error.extra["limit"] == 3
        assert error.headers["Retry-After"] == "18"
        assert error.extra["retry_after"] == 18

    async def test_users_are_independent(self) -> None:
        limits = service()
        for _ in range(3):
            assert await admitted(limits, T0)
        assert await admitted(limits, T0, user=OTHER)

    async def test_parallel_requests_admit_exactly_the_burst(self) -> None:
        limits = service()
        results = await asyncio.gather(*(admitted(limits, T0) for _ in range(25)))
        assert sum(results) == 3

    async def test_parallel_requests_with_a_large_burst_and_a_fresh_user(self) -> None:
        limits = service(burst=100, daily=1000)
        results = await asyncio.gather(*(admitted(limits, T0) for _ in range(24)))
        assert sum(results) == 24
        results = await asyncio.gather(*(admitted(limits, T0) for _ in range(100)))
        assert sum(results) == 76

    async def test_two_processes_sharing_one_database(self) -> None:
        """Two services (as two workers would have) each remember their own, stale, state."""
        first, second = service(), service()
        assert await admitted(first, T0)
        assert await admitted(second, T0)
        assert await admitted(first, T0)
        assert not await admitted(second, T0)
        assert not await admitted(first, T0)


@pytest.mark.usefixtures("database")
class TestDailyLimit:
    async def test_daily_limit_counts_and_refuses(self) -> None:
        limits = service(daily=3, burst=100)
        for minute in range(3):
            assert await admitted(limits, T0 + timedelta(minutes=minute))
        with pytest.raises(RateLimited) as refused:
            await limits.admit(USER, T0 + timedelta(minutes=5))
        assert refused.value.error_code == "daily_limit"
        # 12:05 UTC -> midnight UTC is 11 h 55 min away
        assert refused.value.extra["retry_after"] == 11 * 3600 + 55 * 60
        assert (await limits.status(USER, T0)).chat_cnt == 3

    async def test_day_rolls_over_at_local_midnight(self) -> None:
        limits = service(daily=2, burst=100, tz="Asia/Tokyo")  # UTC+9
        before_midnight = datetime(2026, 11, 21, 14, 59, 0, tzinfo=UTC)  # 23:59 in Tokyo
        assert await admitted(limits, before_midnight)
        assert await admitted(limits, before_midnight)
        with pytest.raises(RateLimited) as refused:
            await limits.admit(USER, before_midnight)
        assert refused.value.extra["retry_after"] == 60
        assert refused.value.extra["resets_at"] == "2026-11-22T00:00:00+09:00"
        after_midnight = datetime(2026, 11, 21, 15, 0, 0, tzinfo=UTC)  # 00:00 next day in Tokyo
        assert await admitted(limits, after_midnight)
        assert (await limits.status(USER, after_midnight)).chat_cnt == 1

    async def test_parallel_requests_admit_exactly_the_daily_limit(self) -> None:
        limits = service(daily=5, burst=1000)
        results = await asyncio.gather(*(admitted(limits, T0) for _ in range(30)))
        assert sum(results) == 5
        assert (await limits.status(USER, T0)).chat_cnt == 5

    async def test_daily_refusal_does_not_use_a_burst_slot(self) -> None:
        limits = service(daily=1, burst=2)
        assert await admitted(limits, T0)
        assert not await admitted(limits, T0)  # refused by the day
        state = await LimitRepository().read(user_id=USER, slots=2)
        assert isinstance(state, LimitState)
        assert sorted(state.slots) == [0, to_ms(T0)]

    async def test_deleted_user_is_not_admitted(self) -> None:
        limits = service()
        await UserDoc.get_pymongo_collection().delete_one({"_id": PydanticObjectId(OTHER)})
        with pytest.raises(NotAuthenticated):
            await limits.admit(OTHER, T0)


@pytest.mark.usefixtures("database")
class TestGiveBack:
    async def test_give_back_restores_both_limits(self) -> None:
        limits = service(daily=3, burst=3)
        admissions: list[Admission] = [await limits.admit(USER, T0) for _ in range(3)]
        assert not await admitted(limits, T0)
        await limits.give_back(admissions[0])
        assert (await limits.status(USER, T0)).chat_cnt == 2
        assert await admitted(limits, T0)


@pytest.mark.usefixtures("database")
class TestOverrides:
    async def test_a_users_own_daily_limit_holds_under_parallel_requests(self) -> None:
        limits = service(daily=20, burst=1000)
        await limits.set_overrides(USER, daily=4, burst=None, which=frozenset({"daily"}))
        results = await asyncio.gather(*(admitted(limits, T0) for _ in range(30)))
        assert sum(results) == 4
        status = await limits.status(USER, T0)
        assert (status.daily_limit, status.daily_override, status.remaining) == (4, 4, 0)
        # others keep the configured limit
        others = await asyncio.gather(*(admitted(limits, T0, user=OTHER) for _ in range(6)))
        assert sum(others) == 6

    async def test_a_users_own_burst_limit_adds_slots(self) -> None:
        limits = service(daily=100, burst=2)
        await limits.set_overrides(USER, daily=None, burst=5, which=frozenset({"burst"}))
        results = await asyncio.gather(*(admitted(limits, T0) for _ in range(12)))
        assert sum(results) == 5
        await limits.set_overrides(USER, daily=None, burst=None, which=frozenset({"burst"}))
        assert (await limits.status(USER, T0)).burst_limit == 2

    async def test_a_change_made_by_another_worker_applies_at_once(self) -> None:
        """The admission update checks the overrides it planned with, so a worker that still
        remembers the old limits cannot admit past the new ones."""
        worker, admin_side = service(daily=20, burst=100), service(daily=20, burst=100)
        for _ in range(3):
            assert await admitted(worker, T0)  # the worker remembers: 3 of 20 used
        await admin_side.set_overrides(USER, daily=3, burst=None, which=frozenset({"daily"}))
        assert not await admitted(worker, T0)
        with pytest.raises(RateLimited) as refused:
            await worker.admit(USER, T0)
        assert refused.value.extra["limit"] == 3

    async def test_bad_overrides_and_unknown_users(self) -> None:
        limits = service()
        with pytest.raises(InvalidInput):
            await limits.set_overrides(USER, daily=-5, burst=None, which=frozenset({"daily"}))
        with pytest.raises(NotFound):
            await limits.set_overrides(
                "6b01b59ab1945f3903016eff", daily=1, burst=None, which=frozenset({"daily"})
            )

    async def test_overview_reads_a_disabled_user_without_changing_anything(self) -> None:
        limits = service()
        await limits.admit(USER, T0)
        await UserDoc.get_pymongo_collection().update_one(
            {"_id": PydanticObjectId(USER)}, {"$set": {"disabled": True}}
        )
        with pytest.raises(NotAuthenticated):
            await limits.status(USER, T0)
        assert (await limits.overview(USER, T0)).chat_cnt == 1
