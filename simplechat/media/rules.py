"""Pure media rules: what kind of file a body is, and the daily quotas' arithmetic.

Audio containers are recognised by their signature (RIFF/WAVE, fLaC, OggS, an ID3 tag) and
the declared content type; a body with neither is raw PCM, as the original voice endpoint
sends it. MP3 frames without an ID3 tag are only taken as MP3 when the type says so: their
sync word (eleven 1 bits) also starts plenty of PCM. Bodies that are plainly something else
(a picture, a PDF, an archive, text) are refused as not audio instead of being heard as noise.
"""

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from simplechat.media.errors import CorruptMedia, NotAPicture, NotAudio
from simplechat.media.types import AudioFormat, Overrides

SPEECH_QUOTA_CODE = "speech_quota"
PICTURE_QUOTA_CODE = "picture_quota"

PCM_TYPES = frozenset({"audio/pcm", "audio/l16", "audio/x-pcm", "audio/raw", "audio/x-raw"})
GENERIC_TYPES = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/x-www-form-urlencoded"}
)
AUDIO_TYPES: dict[str, AudioFormat] = {
    **dict.fromkeys(("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"), AudioFormat.WAV),
    **dict.fromkeys(("audio/flac", "audio/x-flac"), AudioFormat.FLAC),
    **dict.fromkeys(
        ("audio/ogg", "application/ogg", "audio/opus", "audio/vorbis"), AudioFormat.OGG
    ),
    **dict.fromkeys(("audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg-3"), AudioFormat.MP3),
}
PICTURE_TYPES = {
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
}
PICTURE_MIMES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# Signatures of files that are not audio, named in the refusal.
OTHER_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "a JPEG picture"),
    (b"\x89PNG\r\n\x1a\n", "a PNG picture"),
    (b"GIF8", "a GIF picture"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip file"),
)
TEXT_PROBE_BYTES = 4096
SUPPORTED_AUDIO = "raw PCM (16-bit little-endian mono), WAV, FLAC, OGG or MP3"
SUPPORTED_PICTURES = "JPEG, PNG or WebP"


def media_type(content_type: str | None) -> str:
    """`audio/wav; codecs=1` -> `audio/wav`; None -> ``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _signature(data: bytes) -> AudioFormat | None:
    if data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE":
        return AudioFormat.WAV
    if data[:4] == b"fLaC":
        return AudioFormat.FLAC
    if data[:4] == b"OggS":
        return AudioFormat.OGG
    if data[:3] == b"ID3":
        return AudioFormat.MP3
    return None


def what_else(data: bytes) -> str | None:
    """What a body that is not audio looks like ("a PNG picture", "text"), if it is obvious."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "a WebP picture"
    for signature, name in OTHER_SIGNATURES:
        if data.startswith(signature):
            return name
    probe = data[:TEXT_PROBE_BYTES]
    try:
        text = probe.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text" if text and all(c.isprintable() or c.isspace() for c in text) else None


def classify_audio(content_type: str | None, data: bytes) -> AudioFormat:
    """The format to decode `data` as, from its signature and its declared type.

    Raises NotAudio for other types and for bodies that are plainly not audio, CorruptMedia
    for an empty body or a declared container without its signature.
    """
    declared = media_type(content_type)
    if not data:
        raise CorruptMedia("The audio is empty.")
    if declared in PCM_TYPES:
        return AudioFormat.PCM
    if declared not in GENERIC_TYPES and declared not in AUDIO_TYPES:
        kind = "an unsupported audio format" if declared.startswith("audio/") else "not audio"
        raise NotAudio(f"{declared} is {kind}: send {SUPPORTED_AUDIO}.")
    found = _signature(data)
    if found is not None:
        return found
    other = what_else(data)
    if other is not None:
        raise NotAudio(f"This is {other}, not audio: send {SUPPORTED_AUDIO}.")
    if declared in GENERIC_TYPES:
        return AudioFormat.PCM
    expected = AUDIO_TYPES[declared]
    if expected is AudioFormat.MP3:  # bare MP3 frames carry no signature of their own
        return expected
    raise CorruptMedia(f"This is not a valid {expected.upper()} file (its header is missing).")


def picture_format(content_type: str | None, data: bytes) -> str:
    """Pillow's format name (JPEG, PNG, WEBP) to open `data` with, or NotAPicture."""
    declared = media_type(content_type)
    if declared not in GENERIC_TYPES and declared not in PICTURE_TYPES:
        kind = "an unsupported picture format" if declared.startswith("image/") else "not a picture"
        raise NotAPicture(f"{declared} is {kind}: send {SUPPORTED_PICTURES}.")
    if not data:
        raise CorruptMedia("The picture is empty.")
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    other = what_else(data) or ("audio" if _signature(data) is not None else None)
    if other is None and declared in PICTURE_TYPES:
        raise CorruptMedia(
            f"This is not a valid {PICTURE_TYPES[declared]} file (its header is missing or "
            "damaged)."
        )
    found = f"This is {other}" if other else "This is not a picture"
    raise NotAPicture(f"{found}: send a {SUPPORTED_PICTURES} picture.")


# --- quotas ---


@dataclass(frozen=True, slots=True)
class QuotaPolicy:
    speech_seconds: int  # per user per local day
    pictures: int
    timezone: ZoneInfo


def limits_for(policy: QuotaPolicy, overrides: Overrides) -> tuple[int, int]:
    """(speech milliseconds, pictures) a user may use a day: their own quotas, else the server's."""
    seconds = overrides.speech_seconds_daily
    pictures = overrides.pictures_daily
    return (
        (policy.speech_seconds if seconds is None else seconds) * 1000,
        policy.pictures if pictures is None else pictures,
    )


def day_key(now: datetime, tz: ZoneInfo) -> str:
    """The local calendar day of `now` in `tz`, as YYYY-MM-DD."""
    return now.astimezone(tz).date().isoformat()


def next_day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """The first instant of the next local day (right across DST changes)."""
    tomorrow = now.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time.min, tzinfo=tz)


def seconds_until(now: datetime, then: datetime) -> int:
    """Whole seconds from `now` until `then`, rounded up, at least 1."""
    return max(1, math.ceil((then - now).total_seconds()))


def seconds_text(milliseconds: int) -> str:
    """12345 -> "12.3 s"; whole seconds without decimals."""
    seconds = milliseconds / 1000
    return f"{seconds:.0f} s" if seconds == int(seconds) else f"{seconds:.1f} s"


def speech_refusal(limit_ms: int, used_ms: int, asked_ms: int) -> str:
    if limit_ms == 0:
        return "Speech-to-text is not enabled for your account (daily quota 0 s)."
    left = max(0, limit_ms - used_ms)
    return (
        f"Daily speech quota reached: this recording is {seconds_text(asked_ms)} and "
        f"{seconds_text(left)} of your {seconds_text(limit_ms)} a day remain. "
        "The quota resets at midnight."
    )


def picture_refusal(limit: int) -> str:
    if limit == 0:
        return "Picture-to-text is not enabled for your account (daily quota 0 pictures)."
    plural = "picture" if limit == 1 else "pictures"
    return f"Daily picture quota reached: {limit} {plural} a day. The quota resets at midnight."
