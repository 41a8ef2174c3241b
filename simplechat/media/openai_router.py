"""OpenAI's speech-to-text, `POST /v1/audio/transcriptions`: point the openai SDK at /v1 with
your simplechat token and `client.audio.transcriptions.create(...)` works unchanged."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import PlainTextResponse

from simplechat.media.dependencies import CurrentMediaCaller, MediaServiceDep
from simplechat.media.schemas import OpenAIError, Transcription, TranscriptionVerbose
from simplechat.media.subtitles import to_srt, to_vtt
from simplechat.media.types import SpeechOptions, SpeechResult, Upload

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]


def _text(result: SpeechResult) -> str:
    return result.text


TEXT_FORMATS: dict[str, Callable[[SpeechResult], str]] = {
    "text": _text,
    "srt": lambda result: to_srt(result.segments),
    "vtt": lambda result: to_vtt(result.segments),
}
TRANSCRIPTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/plain": {"example": "1\n00:00:00,000 --> 00:00:01,740\nhello world\n"}},
        "description": "json: `{text, usage}`; verbose_json: with language, duration and "
        "segments; text, srt, vtt: plain text",
    },
    **{status: {"model": OpenAIError, "description": "An error in OpenAI's shape"}
       for status in (400, 401, 402, 403, 413, 415, 422, 429, 502, 503, 504)},
}  # fmt: skip


def _formatted(result: SpeechResult, response_format: ResponseFormat) -> Any:
    if response_format == "json":
        return Transcription.from_domain(result)
    if response_format == "verbose_json":
        return TranscriptionVerbose.from_domain(result)
    return PlainTextResponse(TEXT_FORMATS[response_format](result))


@router.post(
    "/audio/transcriptions",
    response_model=Transcription | TranscriptionVerbose,
    summary="Transcription (OpenAI-compatible)",
    responses=TRANSCRIPTION_RESPONSES,
)
async def create_transcription(
    caller: CurrentMediaCaller,
    media: MediaServiceDep,
    file: Annotated[UploadFile, File(description="WAV, FLAC, OGG, MP3 or raw 16 kHz PCM")],
    model: Annotated[str, Form(description="whisper-1 (names this server's speech engine)")],
    language: Annotated[str | None, Form(max_length=16)] = None,
    prompt: Annotated[str | None, Form(max_length=2000)] = None,
    response_format: Annotated[ResponseFormat, Form()] = "json",
    temperature: Annotated[float | None, Form(ge=0, le=1, description="Accepted, unused")] = None,
) -> Any:
    """OpenAI's transcriptions; the seconds count against your daily speech quota (and cost
    credits at the engine's price, when credits are on)."""
    upload = Upload(await file.read(), file.content_type)
    options = SpeechOptions(language=language, prompt=prompt, model=model)
    result = await media.transcribe(caller.user, upload, options, datetime.now(UTC), caller.key)
    return _formatted(result, response_format)
