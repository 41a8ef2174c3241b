"""MediaService against the real test database, with small engine doubles where a test needs
an engine to stall or fail on cue (the real engines are exercised in test_router)."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from simplechat.accounts.types import User
from simplechat.kit.db import open_database
from simplechat.kit.errors import InvalidInput, RateLimited
from simplechat.llm.media_engines import MediaEngines, Unavailable
from simplechat.llm.ocr.base import OcrLine, OcrText, Picture
from simplechat.media.quota import DailyQuota, Hold
from simplechat.media.repository import MediaRepository
from simplechat.media.rules import QuotaPolicy
from simplechat.media.service import MediaLimits, MediaService
from simplechat.media.types import MediaUsage, Upload
from tests.media.conftest import FIXTURES

USER = User("6b01b59ab1945f3903016ee2", "eric", "user", datetime(2026, 1, 1, tzinfo=UTC))
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PICTURE = Upload((FIXTURES / "english.png").read_bytes(), "image/png")


class ScriptedOcr:
    """Answers at once, or waits for `release`, or raises `error`."""

    name = "scripted"

    def __init__(self) -> None:
        self.release: asyncio.Event | None = None
        self.started = asyncio.Event()
        self.error: Exception | None = None

    async def read(self, picture: Picture) -> OcrText:
        self.started.set()
        if self.release is not None:
            await self.release.wait()
        if self.error is not None:
            raise self.error
        return OcrText("hi", (OcrLine("hi"),))

    async def aclose(self) -> None:
        pass


class RefusingGate:
    """A second gate (where billing would hold credits) that refuses everything."""

    async def hold(self, user_id: str, usage: MediaUsage, now: datetime) -> Hold:
        raise RateLimited("No credits left.", limit_code="credits", retry_after=60)

    async def settle(self, hold: Hold) -> None:
        raise AssertionError("never held")

    async def release(self, hold: Hold) -> None:
        raise AssertionError("never held")


@pytest.fixture
async def database(mongo_uri: str, database_name: str) -> AsyncIterator[None]:
    client, _ = await open_database(mongo_uri, database_name, timeout_ms=5000)
    try:
        yield
    finally:
        await client.close()


def service(ocr: ScriptedOcr, *, pictures: int = 3, billing: bool = False) -> MediaService:
    repo = MediaRepository()
    quota = DailyQuota(repo=repo, policy=QuotaPolicy(600, pictures, ZoneInfo("UTC")))
    return MediaService(
        repo=repo,
        engines=MediaEngines(speech=Unavailable("none"), ocr=ocr),
        quota=quota,
        limits=MediaLimits(max_bytes=25 * 1024 * 1024, max_seconds=600, max_pixels=40_000_000),
        gates=(quota, RefusingGate()) if billing else None,
    )


async def pictures_used(media: MediaService) -> int:
    return (await media.quota(USER.id, NOW)).pictures.used


@pytest.mark.usefixtures("database")
class TestMetering:
    async def test_a_cancelled_request_gives_its_picture_back(self) -> None:
        ocr = ScriptedOcr()
        ocr.release = asyncio.Event()
        media = service(ocr)
        task = asyncio.create_task(media.read_picture(USER, PICTURE, NOW))
        await ocr.started.wait()
        assert await pictures_used(media) == 1  # held while the engine works
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await pictures_used(media) == 0

    async def test_an_engine_error_gives_it_back(self) -> None:
        ocr = ScriptedOcr()
        ocr.error = RuntimeError("boom")
        media = service(ocr)
        with pytest.raises(RuntimeError):
            await media.read_picture(USER, PICTURE, NOW)
        assert await pictures_used(media) == 0

    async def test_a_later_gate_refusing_releases_the_quota_held_before_it(self) -> None:
        media = service(ScriptedOcr(), billing=True)
        with pytest.raises(RateLimited, match="No credits"):
            await media.read_picture(USER, PICTURE, NOW)
        assert await pictures_used(media) == 0

    async def test_the_quota_resets_with_the_day(self) -> None:
        media = service(ScriptedOcr(), pictures=1)
        await media.read_picture(USER, PICTURE, NOW)
        with pytest.raises(RateLimited) as refused:
            await media.read_picture(USER, PICTURE, NOW)
        assert refused.value.extra["retry_after"] == 12 * 3600
        tomorrow = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
        assert (await media.read_picture(USER, PICTURE, tomorrow)).text == "hi"


@pytest.mark.usefixtures("database")
class TestOverrides:
    async def test_an_admin_gives_a_user_their_own_quotas(self) -> None:
        media = service(ScriptedOcr(), pictures=1)
        status = await media.set_overrides(
            USER.id, speech_seconds_daily=30, pictures_daily=2, now=NOW
        )
        assert (status.speech_ms.limit, status.pictures.limit, status.overridden) == (
            30_000,
            2,
            True,
        )
        for _ in range(2):
            await media.read_picture(USER, PICTURE, NOW)
        with pytest.raises(RateLimited):
            await media.read_picture(USER, PICTURE, NOW)
        status = await media.set_overrides(
            USER.id, speech_seconds_daily=None, pictures_daily=0, now=NOW
        )
        assert (status.speech_ms.limit, status.pictures.limit) == (600_000, 0)
        with pytest.raises(RateLimited, match="not enabled for your account"):
            await media.read_picture(USER, PICTURE, NOW)
        back = await media.set_overrides(
            USER.id, speech_seconds_daily=None, pictures_daily=None, now=NOW
        )
        assert (back.pictures.limit, back.overridden) == (1, False)

    async def test_negative_quotas_are_refused(self) -> None:
        with pytest.raises(InvalidInput):
            await service(ScriptedOcr()).set_overrides(
                USER.id, speech_seconds_daily=-1, pictures_daily=None, now=NOW
            )
