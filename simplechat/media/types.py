"""Media values as the service's callers see them."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from simplechat.llm.ocr.base import OcrLine
from simplechat.llm.speech.base import Segment

# The most any daily quota override may be (seconds of speech, or pictures): a documented
# range, far inside the 64-bit integers the database stores.
MAX_DAILY_QUOTA = 10_000_000


class MediaKind(StrEnum):
    SPEECH = "speech"
    PICTURE = "picture"


class AudioFormat(StrEnum):
    PCM = "pcm"
    WAV = "wav"
    FLAC = "flac"
    OGG = "ogg"
    MP3 = "mp3"


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as received: its bytes and the content type it was sent with (if any)."""

    data: bytes
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class SpeechOptions:
    sample_rate: int | None = None  # of raw PCM (default 16 kHz)
    language: str | None = None
    prompt: str | None = None
    model: str | None = None  # /v1/audio/transcriptions: a name of the speech engine


@dataclass(frozen=True, slots=True)
class SpeechResult:
    id: str
    text: str
    duration_ms: int
    engine: str
    segments: tuple[Segment, ...]
    language: str | None
    cost: int = 0  # units of 1/10,000 credit, at the engine's price


@dataclass(frozen=True, slots=True)
class PictureResult:
    id: str
    text: str
    lines: tuple[OcrLine, ...]
    engine: str
    width: int
    height: int
    cost: int = 0  # units of 1/10,000 credit, at the engine's price


@dataclass(frozen=True, slots=True)
class MediaUsage:
    """What one request uses: speech milliseconds or pictures (what a price would apply to)."""

    speech_ms: int = 0
    pictures: int = 0


@dataclass(frozen=True, slots=True)
class Allowance:
    limit: int
    used: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    speech_ms: Allowance
    pictures: Allowance
    resets_at: datetime
    overridden: bool  # an admin set this user's own quotas


@dataclass(frozen=True, slots=True)
class Overrides:
    """A user's own daily quotas; None: the server's default."""

    speech_seconds_daily: int | None = None
    pictures_daily: int | None = None


@dataclass(frozen=True, slots=True)
class MediaTotals:
    """What a user has turned into text, for the behaviour report."""

    recordings: int
    speech_ms: int
    pictures: int
