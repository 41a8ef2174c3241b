"""Speech and pictures to text: POST a recording or a picture, get its text back."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from simplechat.accounts.dependencies import TokenOrKeyUser
from simplechat.kit.errors import BadRequest, RateLimited
from simplechat.kit.http import error_responses
from simplechat.media.dependencies import CurrentMediaCaller, MediaServiceDep, UploadBody
from simplechat.media.errors import CorruptMedia, EngineUnavailable, NotAPicture, NotAudio
from simplechat.media.schemas import OcrResponse, QuotaResponse, SpeechResponse
from simplechat.media.types import SpeechOptions

router = APIRouter(prefix="/media", tags=["media"])

SPEECH_PATH = "/media/speech"
OCR_PATH = "/media/ocr"
BINARY = {"schema": {"type": "string", "format": "binary"}}
MULTIPART = {
    "schema": {
        "type": "object",
        "properties": {"file": {"type": "string", "format": "binary"}},
        "required": ["file"],
    }
}
SPEECH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Raw PCM (16-bit little-endian mono, 16 kHz unless ?sample_rate=; "
        "also with no type or application/octet-stream), or a WAV, FLAC, OGG or MP3 file; "
        "or multipart/form-data with the file in `file`. At most 25 MB and 10 minutes.",
        "content": {
            **{t: BINARY for t in ("audio/pcm", "audio/wav", "audio/flac", "audio/ogg")},
            **{t: BINARY for t in ("audio/mpeg", "application/octet-stream")},
            "multipart/form-data": MULTIPART,
        },
    }
}
OCR_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A JPEG, PNG or WebP picture, or multipart/form-data with it in "
        "`file`. At most 25 MB and 40 megapixels.",
        "content": {
            **{t: BINARY for t in ("image/jpeg", "image/png", "image/webp")},
            "multipart/form-data": MULTIPART,
        },
    }
}
QUOTA_EXAMPLE = RateLimited(
    "Daily picture quota reached: 20 pictures a day. The quota resets at midnight.",
    limit_code="picture_quota",
    retry_after=31528,
    extra={"limit": 20, "used": 20, "resets_at": "2026-11-22T00:00:00+00:00"},
)
ENGINE_EXAMPLE = EngineUnavailable(
    "No speech-to-text engine is configured: set DASHSCOPE_API_KEY; or set "
    "SIMPLECHAT_OPENAI_BASE_URL and SIMPLECHAT_OPENAI_SPEECH_MODEL; or install the local "
    'engines: pip install "simplechat[local-media]".'
)
MEDIA_ERRORS = error_responses(
    400, 401, 402, 403, 413, 415, 422, 429, 502, 503, 504,
    examples={
        400: [BadRequest("There was an error parsing the multipart body.")],
        415: [NotAudio("This is a PNG picture, not audio."),
              NotAPicture("audio/wav is not a picture.")],
        422: [CorruptMedia("The FLAC file is damaged or truncated: flac decoder lost sync.")],
        429: [QUOTA_EXAMPLE],
        503: [ENGINE_EXAMPLE],
    },
    descriptions={
        400: "A multipart body that cannot be parsed; your own provider key refused or missing",
        401: "Not logged in; a personal API key that is unknown, disabled or expired",
        402: "Credits are on and the balance does not cover the engine's price",
        403: "A personal API key whose allow-list does not name the engine",
        415: "Not audio, or not a JPEG, PNG or WebP picture",
        422: "A corrupt, truncated or empty file, odd-length PCM, over 10 minutes, a pixel bomb",
        429: "Today's speech or picture quota, or the API key's daily limit, is spent",
        503: "No engine is installed or configured, or the local engine is busy",
    },
)  # fmt: skip


@router.post(
    "/speech",
    response_model=SpeechResponse,
    summary="Speech to text",
    responses=MEDIA_ERRORS,
    openapi_extra=SPEECH_BODY,
)
async def transcribe_speech(
    caller: CurrentMediaCaller,
    media: MediaServiceDep,
    upload: UploadBody,
    sample_rate: Annotated[
        int | None, Query(ge=8000, le=192_000, description="Sample rate of raw PCM (16000)")
    ] = None,
    language: Annotated[
        str | None, Query(max_length=16, description="A language hint, e.g. en or zh")
    ] = None,
) -> SpeechResponse:
    """The text of a recording; its seconds count against your daily speech quota (and cost
    credits at the engine's price, when credits are on)."""
    options = SpeechOptions(sample_rate=sample_rate, language=language)
    result = await media.transcribe(caller.user, upload, options, datetime.now(UTC), caller.key)
    return SpeechResponse.from_domain(result)


@router.post(
    "/ocr",
    response_model=OcrResponse,
    summary="Picture to text",
    responses=MEDIA_ERRORS,
    openapi_extra=OCR_BODY,
)
async def read_picture(
    caller: CurrentMediaCaller, media: MediaServiceDep, upload: UploadBody
) -> OcrResponse:
    """The text in a picture, line by line; each picture counts against your daily quota
    (and costs credits at the engine's price, when credits are on)."""
    result = await media.read_picture(caller.user, upload, datetime.now(UTC), caller.key)
    return OcrResponse.from_domain(result)


@router.get(
    "/quota",
    response_model=QuotaResponse,
    summary="Your media quotas today",
    responses=error_responses(401),
)
async def read_quota(user: TokenOrKeyUser, media: MediaServiceDep) -> QuotaResponse:
    """Today's speech seconds and pictures: your limits, what you used, what remains."""
    return QuotaResponse.from_domain(await media.quota(user.id, datetime.now(UTC)))
