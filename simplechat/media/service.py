"""Speech and pictures to text: check the upload, count it against the quotas and the
credits, run the engine, store the result.

Each request goes: engine chosen (503 if none) -> size, kind and content checked and decoded
(4xx, nothing counted) -> admitted, side by side: the daily quota holds its share (429), the
credits hold its price (402, with credits on and a priced engine), the personal API key it came
with counts one call (401/403/429) and holds the price on its `max_credits` (402), and the
user's own provider key is read (BYOK) -> the engine runs, with that key -> the result is
stored with its cost while the holds are settled (a ledger charge referring to the result). A
failure after admission (a refusal of another step, the engine, the database, a cancelled
request) gives back everything taken, so only a request that returned text uses quota,
credits or the key's cap.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from simplechat.accounts.types import User
from simplechat.billing.service import BillingService
from simplechat.billing.types import Hold as CreditHold
from simplechat.keys.service import KeyService, ProviderKeyService
from simplechat.keys.types import KeyCharge, KeyGrant
from simplechat.kit.errors import InvalidInput
from simplechat.kit.executors import BoundedExecutor
from simplechat.llm.media_engines import MediaEngines, Unavailable
from simplechat.llm.ocr.base import OcrEngine
from simplechat.llm.speech.base import SpeechEngine
from simplechat.media.audio import decode_audio
from simplechat.media.errors import EngineUnavailable, MediaTooLarge, UnknownModel
from simplechat.media.pictures import open_picture
from simplechat.media.quota import DailyQuota, Hold
from simplechat.media.repository import MediaRepository
from simplechat.media.rules import classify_audio, picture_format
from simplechat.media.types import (
    MAX_DAILY_QUOTA,
    MediaKind,
    MediaTotals,
    MediaUsage,
    Overrides,
    PictureResult,
    QuotaStatus,
    SpeechOptions,
    SpeechResult,
    Upload,
)

T = TypeVar("T")
log = logging.getLogger("simplechat.media")
# What OpenAI clients send as `model`: all of them name the configured speech engine.
OPENAI_SPEECH_MODELS = frozenset({"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"})


@dataclass(frozen=True, slots=True)
class MediaLimits:
    max_bytes: int
    max_seconds: int
    max_pixels: int


@dataclass(frozen=True, slots=True)
class Metering:
    """One request as admission sees it: whose, what it uses and costs, on which engine."""

    user_id: str
    usage: MediaUsage
    cost: int  # units, at the engine's price
    engine: str
    vendor: str | None  # whose provider key the engine uses (None: a local engine)
    key: KeyGrant | None  # the personal API key the request came with
    result_id: str  # the result's id, chosen before it is stored: the hold refers to it
    what: str  # "this recording", "this picture": for the 402's message


@dataclass(frozen=True, slots=True)
class Admitted:
    """What a request took before its engine ran, to settle or give back."""

    quota: Hold | None = None
    credits: CreditHold | None = None
    key_charge: KeyCharge | None = None
    own_key: str | None = None  # the user's own key for the engine's provider (BYOK)
    key_hold: CreditHold | None = None  # the price held on the API key's max_credits


class MediaService:
    def __init__(
        self,
        *,
        repo: MediaRepository,
        engines: MediaEngines,
        quota: DailyQuota,
        limits: MediaLimits,
        billing: BillingService,
        keys: KeyService,
        provider_keys: ProviderKeyService,
        decoder: BoundedExecutor | None = None,
    ) -> None:
        self._repo = repo
        self._engines = engines
        self._quota = quota
        self._limits = limits
        self._billing = billing
        self._keys = keys
        self._provider_keys = provider_keys
        # decoding runs on threads of its own, bounded (kit/executors.py)
        self._decoder = decoder or BoundedExecutor(workers=1, queue=8)

    # --- speech ---
    async def transcribe(
        self,
        user: User,
        upload: Upload,
        options: SpeechOptions,
        now: datetime,
        key: KeyGrant | None = None,
    ) -> SpeechResult:
        """The text of a recording (raw PCM, WAV, FLAC, OGG or MP3), counted on today's quota
        and, at the engine's price per second, on the user's credits."""
        engine = self._speech_engine(options)
        self._check_size(upload)
        fmt = classify_audio(upload.content_type, upload.data)
        audio = await self._decoder.run(
            decode_audio,
            upload.data,
            fmt,
            sample_rate=options.sample_rate,
            max_seconds=self._limits.max_seconds,
        )
        usage = MediaUsage(speech_ms=max(1, audio.duration_ms))
        metering = self._metering(user.id, usage, engine.name, engine.vendor, key, "recording")

        async def run(admitted: Admitted) -> SpeechResult:
            transcript = await engine.transcribe(
                audio, language=options.language, prompt=options.prompt, api_key=admitted.own_key
            )
            stored = self._repo.record(
                result_id=metering.result_id,
                user_id=user.id,
                kind=MediaKind.SPEECH,
                engine=engine.name,
                size_bytes=len(upload.data),
                duration_ms=audio.duration_ms,
                text=transcript.text,
                cost=metering.cost,
            )
            note = f"{audio.duration_ms / 1000:.2f} s of speech"
            await self._keep(stored, metering, admitted, note)
            return SpeechResult(
                id=metering.result_id,
                text=transcript.text,
                duration_ms=audio.duration_ms,
                engine=engine.name,
                segments=transcript.segments,
                language=transcript.language or options.language,
                cost=metering.cost,
            )

        return await self._metered(metering, now, run)

    def _speech_engine(self, options: SpeechOptions) -> SpeechEngine:
        engine = self._engines.speech
        if isinstance(engine, Unavailable):
            raise EngineUnavailable(engine.reason)
        if options.model is not None and options.model not in {*OPENAI_SPEECH_MODELS, engine.name}:
            raise UnknownModel(
                f"The model {options.model!r} does not exist here: use whisper-1 (this server "
                f"transcribes with {engine.name})."
            )
        language = (options.language or "").lower()
        if language and engine.languages is not None and language not in engine.languages:
            raise InvalidInput(
                f"The speech engine {engine.name} only understands "
                f"{', '.join(sorted(engine.languages))}; it cannot transcribe {language!r}."
            )
        return engine

    # --- pictures ---
    async def read_picture(
        self, user: User, upload: Upload, now: datetime, key: KeyGrant | None = None
    ) -> PictureResult:
        """The text in a JPEG, PNG or WebP picture, counted on today's picture quota and, at
        the engine's price per picture, on the user's credits."""
        engine = self._ocr_engine()
        self._check_size(upload)
        fmt = picture_format(upload.content_type, upload.data)
        picture = await self._decoder.run(
            open_picture, upload.data, fmt, max_pixels=self._limits.max_pixels
        )
        usage = MediaUsage(pictures=1)
        metering = self._metering(user.id, usage, engine.name, engine.vendor, key, "picture")

        async def run(admitted: Admitted) -> PictureResult:
            found = await engine.read(picture, api_key=admitted.own_key)
            stored = self._repo.record(
                result_id=metering.result_id,
                user_id=user.id,
                kind=MediaKind.PICTURE,
                engine=engine.name,
                size_bytes=len(upload.data),
                width=picture.width,
                height=picture.height,
                text=found.text,
                cost=metering.cost,
            )
            await self._keep(stored, metering, admitted, "1 picture")
            return PictureResult(
                id=metering.result_id,
                text=found.text,
                lines=found.lines,
                engine=engine.name,
                width=picture.width,
                height=picture.height,
                cost=metering.cost,
            )

        return await self._metered(metering, now, run)

    def _ocr_engine(self) -> OcrEngine:
        engine = self._engines.ocr
        if isinstance(engine, Unavailable):
            raise EngineUnavailable(engine.reason)
        return engine

    # --- quotas ---
    async def quota(self, user_id: str, now: datetime) -> QuotaStatus:
        """Today's speech seconds and pictures: the limits, what is used and what remains."""
        return await self._quota.status(user_id, now)

    async def set_overrides(
        self,
        user_id: str,
        *,
        speech_seconds_daily: int | None,
        pictures_daily: int | None,
        now: datetime,
        which: frozenset[str] | None = None,
    ) -> QuotaStatus:
        """Give a user their own daily quotas (None: the server's default), for admins; only
        the ones named in `which` ("speech_seconds_daily", "pictures_daily"; None: both)."""
        self.validate_overrides(speech_seconds_daily, pictures_daily)
        overrides = Overrides(speech_seconds_daily, pictures_daily)
        await self._repo.set_overrides(user_id, overrides, which)
        return await self._quota.status(user_id, now)

    @staticmethod
    def validate_overrides(speech_seconds_daily: int | None, pictures_daily: int | None) -> None:
        """Raise InvalidInput for a quota no override may have (checked before any change)."""
        for value in (speech_seconds_daily, pictures_daily):
            if value is not None and not 0 <= value <= MAX_DAILY_QUOTA:
                raise InvalidInput(f"A daily quota is between 0 and {MAX_DAILY_QUOTA} (or null).")

    async def overrides(self, user_id: str) -> Overrides:
        """The user's own daily quotas (None: the server's default)."""
        return await self._repo.overrides(user_id)

    async def totals(self, user_id: str) -> MediaTotals:
        """Everything the user has turned into text, for the behaviour report."""
        return await self._repo.totals(user_id)

    # --- the sequence every request goes through ---
    async def delete_owner_data(self, user_id: str) -> None:
        """Forget a deleted user's results, counters and quota overrides."""
        await self._repo.delete_user(user_id)

    def _check_size(self, upload: Upload) -> None:
        if len(upload.data) > self._limits.max_bytes:
            raise MediaTooLarge(
                f"The file is {len(upload.data) / 1e6:.1f} MB; at most "
                f"{self._limits.max_bytes / 1e6:.1f} MB are accepted."
            )

    def _metering(
        self,
        user_id: str,
        usage: MediaUsage,
        engine: str,
        vendor: str | None,
        key: KeyGrant | None,
        thing: str,
    ) -> Metering:
        price = self._engines.price(engine)
        cost = self._billing.media_price(price, speech_ms=usage.speech_ms,
                                         pictures=usage.pictures)  # fmt: skip
        return Metering(user_id, usage, cost, engine, vendor, key, self._repo.new_id(),
                        f"this {thing}")  # fmt: skip

    async def _metered(
        self, metering: Metering, now: datetime, run: Callable[[Admitted], Awaitable[T]]
    ) -> T:
        admitted = await self._admit(metering, now)
        try:
            return await run(admitted)
        except BaseException:
            # Shielded: a cancelled request must still give back what it took.
            await asyncio.shield(self._give_back(admitted))
            raise

    async def _admit(self, metering: Metering, now: datetime) -> Admitted:
        """Every step that may refuse the request, side by side (no step waits for another);
        when one refuses, what the others took is given back."""
        user_id, key, vendor = metering.user_id, metering.key, metering.vendor
        server_key = vendor is None or self._engines.has_server_key(vendor)
        steps: tuple[Coroutine[Any, Any, Any], ...] = (
            self._keys.charge(key, metering.engine) if key is not None else _nothing(),
            self._quota.hold(user_id, metering.usage, now),
            self._billing.hold_units(user_id, metering.cost, label=metering.engine,
                                     reference=metering.result_id, what=metering.what),
            self._provider_keys.key_for(user_id, vendor, server_key=server_key)
            if vendor is not None else _nothing(),
            self._hold_key(metering),
        )  # fmt: skip
        results = await asyncio.gather(*steps, return_exceptions=True)
        taken = [None if isinstance(r, BaseException) else r for r in results]
        admitted = Admitted(key_charge=taken[0], quota=taken[1], credits=taken[2],
                            own_key=taken[3], key_hold=taken[4])  # fmt: skip
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            await asyncio.shield(self._give_back(admitted))
            raise failure
        return admitted

    async def _hold_key(self, metering: Metering) -> CreditHold | None:
        """Hold the price on the API key's own budget, when it has `max_credits`."""
        key = metering.key
        if key is None or key.budget_account is None or key.max_credits is None:
            return None
        return await self._billing.budgets.hold_units(
            key.budget_account,
            key.max_credits,
            metering.cost,
            label=metering.engine,
            reference=metering.result_id,
            what=metering.what,
        )

    async def _keep(
        self, stored: Awaitable[None], metering: Metering, admitted: Admitted, note: str
    ) -> None:
        """Store the result and charge it (settling its hold), side by side. A charge that
        fails is logged: the result stands, and billing's sweeper releases the hold."""
        await asyncio.gather(
            stored,
            self._charge(metering, admitted.credits, note),
            self._charge_key(metering, admitted.key_hold, note),
        )

    async def _charge_key(self, metering: Metering, hold: CreditHold | None, note: str) -> None:
        if hold is None:
            return
        try:
            await self._billing.settle_units(
                hold, metering.cost, f"{metering.engine}: {note}", metering.result_id
            )
        except Exception:
            log.exception("media.key_charge_failed result=%s", metering.result_id)

    async def _charge(self, metering: Metering, hold: CreditHold | None, note: str) -> None:
        try:
            await self._billing.charge_units(
                metering.user_id,
                metering.cost,
                label=metering.engine,
                note=f"{metering.engine}: {note}",
                hold=hold,
                reference=metering.result_id,
            )
        except Exception:
            log.exception("media.charge_failed result=%s", metering.result_id)

    async def _give_back(self, admitted: Admitted) -> None:
        """Give back whatever admission took (a failed request uses nothing); each step on
        its own, so one that fails does not keep the others."""
        steps: list[Awaitable[Any]] = []
        if admitted.quota is not None:
            steps.append(self._quota.release(admitted.quota))
        if admitted.credits is not None:
            steps.append(self._billing.release(admitted.credits))
        if admitted.key_charge is not None:
            steps.append(self._keys.give_back(admitted.key_charge))
        if admitted.key_hold is not None:
            steps.append(self._billing.release(admitted.key_hold))
        for outcome in await asyncio.gather(*steps, return_exceptions=True):
            if isinstance(outcome, Exception):  # the sweeper releases a credit hold later
                log.error("media.give_back_failed", exc_info=outcome)


async def _nothing() -> None:
    return None
