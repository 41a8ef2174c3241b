"""Media wire models."""

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from simplechat.billing.types import to_credits
from simplechat.media.types import PictureResult, QuotaStatus, SpeechResult

ID_DESCRIPTION = "The stored result (a credits charge names it as its reference)"
COST_DESCRIPTION = (
    "Credits at the engine's price (4 decimal places; 0 for a free engine); taken from your "
    "balance when credits are on"
)


class SpeechResponse(BaseModel):
    id: str = Field(description=ID_DESCRIPTION, examples=["6b01b59ab1945f3903016ee2"])
    text: str = Field(examples=["hello world this is a test"])
    duration_seconds: float = Field(description="Length of the recording", examples=[1.89])
    engine: str = Field(description="The engine that listened", examples=["pocketsphinx"])
    cost: Decimal = Field(description=COST_DESCRIPTION, examples=["0.0189"])

    @classmethod
    def from_domain(cls, result: SpeechResult) -> "SpeechResponse":
        return cls(
            id=result.id,
            text=result.text,
            duration_seconds=result.duration_ms / 1000,
            engine=result.engine,
            cost=to_credits(result.cost),
        )


class OcrLinePublic(BaseModel):
    text: str = Field(examples=["TOTAL 12.50"])
    box: list[list[float]] | None = Field(
        description="The line's corners [x, y] in pixels, clockwise from the top left "
        "(null when the engine gives none)",
        examples=[[[11.0, 11.0], [281.0, 11.0], [281.0, 62.0], [11.0, 62.0]]],
    )
    confidence: float | None = Field(description="0 to 1 (null when the engine gives none)",
                                     examples=[0.9929])  # fmt: skip


class OcrResponse(BaseModel):
    id: str = Field(description=ID_DESCRIPTION, examples=["6b01b59ab1945f3903016ee2"])
    text: str = Field(
        description="Every line, top to bottom", examples=["CORNER CAFE\nTOTAL 12.50"]
    )
    lines: list[OcrLinePublic]
    engine: str = Field(examples=["rapidocr"])
    cost: Decimal = Field(description=COST_DESCRIPTION, examples=["0.5000"])

    @classmethod
    def from_domain(cls, result: PictureResult) -> "OcrResponse":
        lines = [
            OcrLinePublic(
                text=line.text,
                box=[list(point) for point in line.box] if line.box is not None else None,
                confidence=line.confidence,
            )
            for line in result.lines
        ]
        return cls(id=result.id, text=result.text, lines=lines, engine=result.engine,
                   cost=to_credits(result.cost))  # fmt: skip


class SpeechAllowance(BaseModel):
    limit: float = Field(examples=[600])
    used: float = Field(examples=[41.2])
    remaining: float = Field(examples=[558.8])


class PictureAllowance(BaseModel):
    limit: int = Field(examples=[20])
    used: int = Field(examples=[3])
    remaining: int = Field(examples=[17])


class QuotaResponse(BaseModel):
    speech_seconds: SpeechAllowance = Field(description="Seconds of speech a day")
    pictures: PictureAllowance = Field(description="Pictures a day")
    resets_at: datetime = Field(examples=["2026-11-22T00:00:00Z"])
    overridden: bool = Field(description="An admin gave you your own quotas", examples=[False])

    @classmethod
    def from_domain(cls, status: QuotaStatus) -> "QuotaResponse":
        speech = status.speech_ms
        return cls(
            speech_seconds=SpeechAllowance(
                limit=speech.limit / 1000,
                used=speech.used / 1000,
                remaining=speech.remaining / 1000,
            ),
            pictures=PictureAllowance(
                limit=status.pictures.limit,
                used=status.pictures.used,
                remaining=status.pictures.remaining,
            ),
            resets_at=status.resets_at,
            overridden=status.overridden,
        )


# --- OpenAI's transcription shapes (/v1/audio/transcriptions) ---


class OpenAIErrorDetail(BaseModel):
    message: str = Field(examples=["Daily speech quota reached: ..."])
    type: str = Field(examples=["rate_limit_error"])
    code: str | None = Field(examples=["speech_quota"])
    param: str | None = None
    request_id: str | None = None


class OpenAIError(BaseModel):
    """Errors under /v1 come in OpenAI's shape (kit.http renders them)."""

    error: OpenAIErrorDetail


class TranscriptionUsage(BaseModel):
    type: str = "duration"
    seconds: int = Field(description="The recording's length, rounded up", examples=[2])


class Transcription(BaseModel):
    text: str = Field(examples=["hello world this is a test"])
    usage: TranscriptionUsage

    @classmethod
    def from_domain(cls, result: SpeechResult) -> "Transcription":
        return cls(text=result.text, usage=TranscriptionUsage(seconds=_whole_seconds(result)))


class TranscriptionSegment(BaseModel):
    id: int
    seek: int = 0
    start: float
    end: float
    text: str
    tokens: list[int] = Field(default_factory=list)
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0


class TranscriptionVerbose(BaseModel):
    task: str = "transcribe"
    language: str = Field(description="The language asked for or found; unknown if neither")
    duration: float
    text: str
    segments: list[TranscriptionSegment]
    usage: TranscriptionUsage

    @classmethod
    def from_domain(cls, result: SpeechResult) -> "TranscriptionVerbose":
        return cls(
            language=result.language or "unknown",
            duration=result.duration_ms / 1000,
            text=result.text,
            segments=[
                TranscriptionSegment(id=index, start=s.start, end=s.end, text=s.text)
                for index, s in enumerate(result.segments)
            ],
            usage=TranscriptionUsage(seconds=_whole_seconds(result)),
        )


def _whole_seconds(result: SpeechResult) -> int:
    return -(-result.duration_ms // 1000)
