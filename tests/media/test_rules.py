"""The pure media rules: what a body is, the quotas' arithmetic, subtitles. Table tests."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from simplechat.llm.speech.base import Segment
from simplechat.media.errors import CorruptMedia, NotAPicture, NotAudio
from simplechat.media.rules import (
    QuotaPolicy,
    classify_audio,
    day_key,
    limits_for,
    next_day_start,
    picture_format,
    picture_refusal,
    seconds_text,
    speech_refusal,
)
from simplechat.media.subtitles import to_srt, to_vtt
from simplechat.media.types import AudioFormat, Overrides

PCM = b"\x01\x00\xff\xff" * 100
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + PCM
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 20
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 20


@pytest.mark.parametrize(
    ("content_type", "data", "expected"),
    [
        (None, PCM, AudioFormat.PCM),
        ("application/octet-stream", PCM, AudioFormat.PCM),
        ("application/x-www-form-urlencoded", PCM, AudioFormat.PCM),  # curl --data-binary
        ("audio/L16; rate=16000", WAV, AudioFormat.PCM),  # a declared PCM type is believed
        (None, WAV, AudioFormat.WAV),
        ("audio/mpeg", WAV, AudioFormat.WAV),  # the signature wins over a wrong label
        ("audio/flac", b"fLaC" + PCM, AudioFormat.FLAC),
        ("audio/ogg", b"OggS" + PCM, AudioFormat.OGG),
        (None, b"ID3\x04" + PCM, AudioFormat.MP3),
        ("audio/mpeg", b"\xff\xfb\x90" + PCM, AudioFormat.MP3),  # bare MP3 frames
        (None, b"\xff\xfb\x90" + PCM, AudioFormat.PCM),  # ... are PCM when nothing says MP3
    ],
)
def test_audio_is_recognised(content_type: str | None, data: bytes, expected: AudioFormat) -> None:
    assert classify_audio(content_type, data) is expected


@pytest.mark.parametrize(
    ("content_type", "data", "error", "says"),
    [
        ("image/png", PNG, NotAudio, "image/png is not audio"),
        ("audio/aac", PCM, NotAudio, "unsupported audio format"),
        (None, PNG, NotAudio, "This is a PNG picture, not audio"),
        ("application/octet-stream", JPEG, NotAudio, "a JPEG picture"),
        (None, WEBP, NotAudio, "a WebP picture"),
        (None, b"%PDF-1.7 ...", NotAudio, "a PDF document"),
        (None, b"hello, this is plainly text\n", NotAudio, "This is text"),
        ("text/plain", b"hello", NotAudio, "text/plain is not audio"),
        (None, b"", CorruptMedia, "empty"),
        ("audio/wav", PCM, CorruptMedia, "not a valid WAV file"),
        ("audio/flac", PCM, CorruptMedia, "not a valid FLAC file"),
    ],
)
def test_what_is_not_audio_is_refused(
    content_type: str | None, data: bytes, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        classify_audio(content_type, data)


@pytest.mark.parametrize(
    ("content_type", "data", "expected"),
    [
        (None, JPEG, "JPEG"),
        ("image/jpeg", JPEG, "JPEG"),
        ("image/png", PNG, "PNG"),
        ("application/octet-stream", WEBP, "WEBP"),
        ("image/jpeg", PNG, "PNG"),  # the signature wins over a wrong label
    ],
)
def test_pictures_are_recognised(content_type: str | None, data: bytes, expected: str) -> None:
    assert picture_format(content_type, data) == expected


@pytest.mark.parametrize(
    ("content_type", "data", "error", "says"),
    [
        ("audio/wav", WAV, NotAPicture, "audio/wav is not a picture"),
        ("image/gif", b"GIF89a", NotAPicture, "unsupported picture format"),
        (None, b"GIF89a...", NotAPicture, "This is a GIF picture"),
        (None, WAV, NotAPicture, "This is audio"),
        (None, b"hello", NotAPicture, "This is text"),
        (None, b"\x00\x01\x02\x03", NotAPicture, "This is not a picture"),
        ("image/jpeg", b"\x00\x01\x02\x03", CorruptMedia, "not a valid JPEG file"),
        ("image/png", b"", CorruptMedia, "empty"),
    ],
)
def test_what_is_not_a_picture_is_refused(
    content_type: str | None, data: bytes, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        picture_format(content_type, data)


POLICY = QuotaPolicy(speech_seconds=600, pictures=20, timezone=ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (Overrides(), (600_000, 20)),
        (Overrides(speech_seconds_daily=30), (30_000, 20)),
        (Overrides(pictures_daily=0), (600_000, 0)),
        (Overrides(1800, 100), (1_800_000, 100)),
    ],
)
def test_a_users_own_quotas_replace_the_servers(
    overrides: Overrides, expected: tuple[int, int]
) -> None:
    assert limits_for(POLICY, overrides) == expected


@pytest.mark.parametrize(
    ("now", "zone", "day", "next_start"),
    [
        (
            datetime(2026, 11, 21, 23, 59, tzinfo=UTC),
            "UTC",
            "2026-11-21",
            "2026-11-22T00:00:00+00:00",
        ),
        (
            datetime(2026, 11, 21, 23, 59, tzinfo=UTC),
            "Asia/Shanghai",
            "2026-11-22",
            "2026-11-23T00:00:00+08:00",
        ),
        (
            datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
            "Europe/Paris",
            "2026-03-29",
            "2026-03-30T00:00:00+02:00",
        ),
    ],
)
def test_days_are_local(now: datetime, zone: str, day: str, next_start: str) -> None:
    assert day_key(now, ZoneInfo(zone)) == day
    assert next_day_start(now, ZoneInfo(zone)).isoformat() == next_start


@pytest.mark.parametrize(
    ("limit", "used", "asked", "says"),
    [
        (600_000, 598_000, 4_100, "this recording is 4.1 s and 2 s of your 600 s a day remain"),
        (10_000, 12_000, 1_000, "0 s of your 10 s a day remain"),
        (0, 0, 1_000, "not enabled for your account"),
    ],
)
def test_speech_refusals_say_how_much_is_left(limit: int, used: int, asked: int, says: str) -> None:
    assert says in speech_refusal(limit, used, asked)


def test_picture_refusals() -> None:
    assert "20 pictures a day" in picture_refusal(20)
    assert "1 picture a day" in picture_refusal(1)
    assert "not enabled" in picture_refusal(0)
    assert seconds_text(1893) == "1.9 s"
    assert seconds_text(600_000) == "600 s"


SEGMENTS = [Segment(0.0, 1.74, "hello world"), Segment(3661.5, 3663.005, "this is a test")]


def test_subtitles() -> None:
    assert to_srt(SEGMENTS) == (
        "1\n00:00:00,000 --> 00:00:01,740\nhello world\n\n"
        "2\n01:01:01,500 --> 01:01:03,005\nthis is a test\n"
    )
    assert to_vtt(SEGMENTS) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.740\nhello world\n\n"
        "01:01:01.500 --> 01:01:03.005\nthis is a test\n"
    )
    assert to_srt([]) == ""
