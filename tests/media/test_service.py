"""MediaService against the real test database, with small engine doubles where a test needs
an engine to stall or fail on cue (the real engines are exercised in test_router)."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet

from simplechat.accounts.types import User
from simplechat.billing.balances import Balances
from simplechat.billing.errors import InsufficientCredits
from simplechat.billing.repository import CodeRepository, CreditRepository, UsageRepository
from simplechat.billing.service import BillingPolicy, BillingService
from simplechat.billing.types import EntryKind
from simplechat.keys.repository import ApiKeyRepository, ProviderKeyRepository
from simplechat.keys.service import KeyService, ProviderKeyService
from simplechat.keys.types import ByokMode
from simplechat.kit.db import open_database
from simplechat.kit.errors import InvalidInput, RateLimited
from simplechat.kit.pagination import PageParams
from simplechat.llm.media_engines import MediaEngines, Unavailable
from simplechat.llm.ocr.base import OcrLine, OcrText, Picture
from simplechat.llm.pricing import MediaPrice
from simplechat.media.quota import DailyQuota
from simplechat.media.repository import MediaRepository
from simplechat.media.rules import QuotaPolicy
from simplechat.media.service import MediaLimits, MediaService
from simplechat.media.types import Upload
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

    vendor = None

    async def read(self, picture: Picture, *, api_key: str | None = None) -> OcrText:
        self.started.set()
        if self.release is not None:
            await self.release.wait()
        if self.error is not None:
            raise self.error
        return OcrText("hi", (OcrLine("hi"),))

    async def aclose(self) -> None:
        pass


@pytest.fixture
async def database(mongo_uri: str, database_name: str) -> AsyncIterator[None]:
    client, _ = await open_database(mongo_uri, database_name, timeout_ms=5000)
    try:
        yield
    finally:
        await client.close()


def billing_service(*, credits_on: bool, signup_units: int = 0) -> BillingService:
    credits, codes = CreditRepository(), CodeRepository()
    return BillingService(
        balances=Balances(credits=credits, codes=codes, signup_units=signup_units),
        credits=credits,
        codes=codes,
        usage=UsageRepository(),
        policy=BillingPolicy(enabled=credits_on, hold_timeout_seconds=60, timezone=ZoneInfo("UTC")),
    )


def service(
    ocr: ScriptedOcr,
    *,
    pictures: int = 3,
    billing: BillingService | None = None,
    per_picture: str | None = None,
) -> MediaService:
    repo = MediaRepository()
    quota = DailyQuota(repo=repo, policy=QuotaPolicy(600, pictures, ZoneInfo("UTC")))
    prices = {ocr.name: MediaPrice(per_picture=Decimal(per_picture))} if per_picture else {}
    return MediaService(
        repo=repo,
        engines=MediaEngines(speech=Unavailable("none"), ocr=ocr, prices=prices),
        quota=quota,
        limits=MediaLimits(max_bytes=25 * 1024 * 1024, max_seconds=600, max_pixels=40_000_000),
        billing=billing or billing_service(credits_on=False),
        keys=KeyService(repo=ApiKeyRepository(), tz=ZoneInfo("UTC")),
        provider_keys=ProviderKeyService(
            repo=ProviderKeyRepository(), cipher=Fernet(Fernet.generate_key()), mode=ByokMode.OFF
        ),
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

    async def test_short_of_credits_is_402_and_gives_the_quota_back(self) -> None:
        billing = billing_service(credits_on=True, signup_units=4_999)
        media = service(ScriptedOcr(), billing=billing, per_picture="0.5")
        with pytest.raises(InsufficientCredits) as refused:
            await media.read_picture(USER, PICTURE, NOW)
        assert refused.value.status_code == 402
        assert refused.value.extra["needed"] == "0.5000"
        assert refused.value.extra["available"] == "0.4999"
        assert "this picture" in refused.value.message
        assert await pictures_used(media) == 0

    async def test_a_success_is_charged_with_a_ledger_entry_naming_the_result(self) -> None:
        billing = billing_service(credits_on=True, signup_units=20_000)
        media = service(ScriptedOcr(), billing=billing, per_picture="0.5")
        result = await media.read_picture(USER, PICTURE, NOW)
        assert result.cost == 5_000
        view = await billing.credits(USER.id, PageParams(page=1, page_size=10))
        assert (view.balance.available, view.balance.on_hold) == (15_000, 0)
        charge = view.ledger.items[0]
        assert (charge.kind, charge.delta, charge.reference) == (
            EntryKind.CHARGE,
            -5_000,
            result.id,
        )
        assert charge.note == "scripted: 1 picture"

    async def test_a_failed_engine_charges_nothing(self) -> None:
        ocr = ScriptedOcr()
        ocr.error = RuntimeError("boom")
        billing = billing_service(credits_on=True, signup_units=20_000)
        media = service(ocr, billing=billing, per_picture="0.5")
        with pytest.raises(RuntimeError):
            await media.read_picture(USER, PICTURE, NOW)
        balance = await billing.balance(USER.id)
        assert (balance.available, balance.on_hold) == (20_000, 0)
        assert await pictures_used(media) == 0

    async def test_a_quota_refusal_holds_no_credits(self) -> None:
        billing = billing_service(credits_on=True, signup_units=20_000)
        media = service(ScriptedOcr(), billing=billing, per_picture="0.5", pictures=0)
        with pytest.raises(RateLimited):
            await media.read_picture(USER, PICTURE, NOW)
        balance = await billing.balance(USER.id)
        assert (balance.available, balance.on_hold) == (20_000, 0)

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
