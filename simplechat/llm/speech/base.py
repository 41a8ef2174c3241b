"""What every speech engine takes and gives.

Engines receive audio already decoded and checked by the media capability: 16-bit
little-endian mono PCM at 16 kHz (`PcmAudio`), whatever the caller uploaded. They translate
their own failures into the `UpstreamError` family (a local engine's too), so a failed call
is an error the service can answer and give the quota back for.
"""

from dataclasses import dataclass
from typing import Protocol

SAMPLE_RATE = 16_000
SAMPLE_WIDTH = 2  # bytes: 16-bit signed little-endian


@dataclass(frozen=True, slots=True)
class PcmAudio:
    """Mono 16-bit little-endian PCM at SAMPLE_RATE."""

    pcm: bytes

    @property
    def duration_ms(self) -> int:
        return len(self.pcm) * 1000 // (SAMPLE_RATE * SAMPLE_WIDTH)


@dataclass(frozen=True, slots=True)
class Segment:
    start: float  # seconds from the start of the audio
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    segments: tuple[Segment, ...]
    language: str | None = None


class SpeechEngine(Protocol):
    """`name` is what responses and records show (e.g. "pocketsphinx"); `languages` the
    language codes it understands (None: any); `vendor` the provider whose key it uses
    ("dashscope", "openai"; None for a local engine). `api_key`: the caller's own key for
    that provider, used for this call only (None: the server's)."""

    name: str
    languages: frozenset[str] | None
    vendor: str | None

    async def transcribe(
        self,
        audio: PcmAudio,
        *,
        language: str | None = None,
        prompt: str | None = None,
        api_key: str | None = None,
    ) -> Transcript: ...

    async def aclose(self) -> None: ...


def whole(text: str, audio: PcmAudio, language: str | None = None) -> Transcript:
    """A transcript of one segment spanning the audio (engines that give no timings)."""
    text = text.strip()
    segments = (Segment(0.0, audio.duration_ms / 1000, text),) if text else ()
    return Transcript(text=text, segments=segments, language=language)
