"""Speech and pictures to text: check the upload, count it against the quotas, run the engine,
store the result.

Each request goes: engine chosen (503 if none) -> size, kind and content checked and decoded
(4xx, nothing counted) -> every usage gate holds its share (429 when a quota is spent) -> the
engine runs -> the result is stored. A failure after the hold (the engine, the database, a
cancelled request) releases what was held, so only a request that returned text uses quota.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from simplechat.accounts.types import User
from simplechat.kit.errors import InvalidInput
from simplechat.llm.media_engines import MediaEngines, Unavailable
from simplechat.llm.ocr.base import OcrEngine
from simplechat.llm.speech.base import SpeechEngine
from simplechat.media.audio import decode_audio
from simplechat.media.errors import EngineUnavailable, MediaTooLarge, UnknownModel
from simplechat.media.pictures import open_picture
from simplechat.media.quota import DailyQuota, Hold, UsageGate
from simplechat.media.repository import MediaRepository
from simplechat.media.rules import classify_audio, picture_format
from simplechat.media.types import (
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
# What OpenAI clients send as `model`: all of them name the configured speech engine.
OPENAI_SPEECH_MODELS = frozenset({"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"})


@dataclass(frozen=True, slots=True)
class MediaLimits:
    max_bytes: int
    max_seconds: int
    max_pixels: int


class MediaService:
    def __init__(
        self,
        *,
        repo: MediaRepository,
        engines: MediaEngines,
        quota: DailyQuota,
        limits: MediaLimits,
        gates: Sequence[UsageGate] | None = None,
    ) -> None:
        self._repo = repo
        self._engines = engines
        self._quota = quota
        self._limits = limits
        self._gates: tuple[UsageGate, ...] = tuple(gates) if gates is not None else (quota,)

    # --- speech ---
    async def transcribe(
        self, user: User, upload: Upload, options: SpeechOptions, now: datetime
    ) -> SpeechResult:
        """The text of a recording (raw PCM, WAV, FLAC, OGG or MP3), counted on today's quota."""
        engine = self._speech_engine(options)
        self._check_size(upload)
        fmt = classify_audio(upload.content_type, upload.data)
        audio = await asyncio.to_thread(
            decode_audio,
            upload.data,
            fmt,
            sample_rate=options.sample_rate,
            max_seconds=self._limits.max_seconds,
        )

        async def run() -> SpeechResult:
            transcript = await engine.transcribe(
                audio, language=options.language, prompt=options.prompt
            )
            result_id = await self._repo.record(
                user_id=user.id,
                kind=MediaKind.SPEECH,
                engine=engine.name,
                size_bytes=len(upload.data),
                duration_ms=audio.duration_ms,
                text=transcript.text,
            )
            return SpeechResult(
                id=result_id,
                text=transcript.text,
                duration_ms=audio.duration_ms,
                engine=engine.name,
                segments=transcript.segments,
                language=transcript.language or options.language,
            )

        return await self._metered(user.id, MediaUsage(speech_ms=max(1, audio.duration_ms)), now,
                                   run)  # fmt: skip

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
    async def read_picture(self, user: User, upload: Upload, now: datetime) -> PictureResult:
        """The text in a JPEG, PNG or WebP picture, counted on today's picture quota."""
        engine = self._ocr_engine()
        self._check_size(upload)
        fmt = picture_format(upload.content_type, upload.data)
        picture = await asyncio.to_thread(
            open_picture, upload.data, fmt, max_pixels=self._limits.max_pixels
        )

        async def run() -> PictureResult:
            found = await engine.read(picture)
            result_id = await self._repo.record(
                user_id=user.id,
                kind=MediaKind.PICTURE,
                engine=engine.name,
                size_bytes=len(upload.data),
                width=picture.width,
                height=picture.height,
                text=found.text,
            )
            return PictureResult(
                id=result_id,
                text=found.text,
                lines=found.lines,
                engine=engine.name,
                width=picture.width,
                height=picture.height,
            )

        return await self._metered(user.id, MediaUsage(pictures=1), now, run)

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
            if value is not None and value < 0:
                raise InvalidInput("A daily quota cannot be negative.")

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

    async def _metered(
        self, user_id: str, usage: MediaUsage, now: datetime, run: Callable[[], Awaitable[T]]
    ) -> T:
        holds: list[tuple[UsageGate, Hold]] = []
        try:
            for gate in self._gates:
                holds.append((gate, await gate.hold(user_id, usage, now)))
            result = await run()
        except BaseException:
            # Shielded: a cancelled request must still give back what it held.
            await asyncio.shield(_release(holds))
            raise
        for gate, hold in holds:
            await gate.settle(hold)
        return result


async def _release(holds: Sequence[tuple[UsageGate, Hold]]) -> None:
    for gate, hold in reversed(holds):
        await gate.release(hold)
