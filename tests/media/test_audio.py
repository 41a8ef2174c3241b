"""Decoding uploads into 16 kHz mono PCM: every container, rate and width, and every way an
upload can be broken."""

import io
import wave

import numpy as np
import pytest
import soundfile

from simplechat.media.audio import decode_audio
from simplechat.media.errors import CorruptMedia, MediaTooLong
from simplechat.media.types import AudioFormat
from tests.media.conftest import FIXTURES

PCM = (FIXTURES / "hello.pcm").read_bytes()
SPEECH = np.frombuffer(PCM, dtype="<i2")
SECONDS = len(SPEECH) / 16000


def encoded(fmt: str, subtype: str, rate: int = 16000, channels: int = 1) -> bytes:
    """The speech fixture in another container, rate and channel count (libsndfile)."""
    samples = SPEECH.astype(np.float32) / 32768
    if rate != 16000:
        import soxr

        samples = soxr.resample(samples, 16000, rate)
    if channels == 2:
        samples = np.stack([samples, samples * 0.5], axis=1)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def stdlib_wav(rate: int, channels: int, width: int) -> bytes:
    """The speech fixture as a WAV written by the standard library."""
    samples = SPEECH.astype(np.int32)
    if width == 1:
        raw = ((samples >> 8) + 128).astype(np.uint8).tobytes()
    elif width == 3:
        wide = (samples << 8).astype("<i4").view(np.uint8).reshape(-1, 4)[:, 1:]
        raw = wide.tobytes()
    else:
        raw = samples.astype("<i2").tobytes()
    if channels == 2:
        frame = width
        raw = b"".join(raw[i : i + frame] * 2 for i in range(0, len(raw), frame))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(raw)
    return buffer.getvalue()


def decode(data: bytes, fmt: AudioFormat, sample_rate: int | None = None) -> np.ndarray:
    audio = decode_audio(data, fmt, sample_rate=sample_rate, max_seconds=600)
    return np.frombuffer(audio.pcm, dtype="<i2")


def similar(decoded: np.ndarray, tolerance: float = 0.15) -> bool:
    """About the same length and loudness as the original speech."""
    loud = float(np.sqrt(np.mean(SPEECH.astype(np.float64) ** 2)))
    got = float(np.sqrt(np.mean(decoded.astype(np.float64) ** 2)))
    return abs(len(decoded) - len(SPEECH)) < 16000 * 0.1 and abs(got - loud) / loud < tolerance


def test_raw_pcm_at_16k_is_taken_as_it_is() -> None:
    assert decode(PCM, AudioFormat.PCM).tobytes() == PCM


def test_raw_pcm_at_another_rate_is_resampled() -> None:
    decoded = decode(PCM, AudioFormat.PCM, sample_rate=8000)
    assert len(decoded) == pytest.approx(2 * len(SPEECH), abs=16)


@pytest.mark.parametrize(
    ("rate", "channels", "width"), [(16000, 1, 2), (22050, 2, 2), (44100, 1, 3), (8000, 1, 1)]
)
def test_wav_of_any_rate_channels_and_width(rate: int, channels: int, width: int) -> None:
    data = stdlib_wav(rate, channels, width)
    decoded = decode(data, AudioFormat.WAV)
    # The fixture is at 16 kHz: written at another rate it plays faster or slower.
    assert len(decoded) == pytest.approx(len(SPEECH) * 16000 / rate, rel=0.01)


def test_wav_encodings_the_standard_library_cannot_read_go_to_libsndfile() -> None:
    assert similar(decode(encoded("WAV", "FLOAT"), AudioFormat.WAV))
    assert similar(decode(encoded("WAVEX", "PCM_16", channels=2), AudioFormat.WAV), 0.3)


@pytest.mark.parametrize(
    ("fmt", "container", "subtype"),
    [
        (AudioFormat.FLAC, "FLAC", "PCM_16"),
        (AudioFormat.OGG, "OGG", "VORBIS"),
        (AudioFormat.OGG, "OGG", "OPUS"),
        (AudioFormat.MP3, "MP3", "MPEG_LAYER_III"),
    ],
)
def test_compressed_formats(fmt: AudioFormat, container: str, subtype: str) -> None:
    assert similar(decode(encoded(container, subtype, rate=48000, channels=2), fmt), 0.35)


def test_odd_pcm_is_refused() -> None:
    with pytest.raises(CorruptMedia, match="odd number of bytes"):
        decode(PCM[:-1], AudioFormat.PCM)


@pytest.mark.parametrize(
    ("data", "fmt", "says"),
    [
        (stdlib_wav(16000, 1, 2)[: len(PCM) // 2], AudioFormat.WAV, "truncated"),
        (encoded("FLAC", "PCM_16")[:15000], AudioFormat.FLAC, "damaged or truncated"),
        (encoded("MP3", "MPEG_LAYER_III")[:5000], AudioFormat.MP3, "truncated"),
        (encoded("OGG", "VORBIS")[:2000], AudioFormat.OGG, "cannot be read|no samples"),
        (b"RIFF\x00\x00\x00\x00WAVEjunkjunk", AudioFormat.WAV, "cannot be read"),
        (b"fLaC" + b"\x00" * 64, AudioFormat.FLAC, "cannot be read"),
        (b"ID3" + b"\x07" * 64, AudioFormat.MP3, "cannot be read"),
        (stdlib_wav(16000, 1, 2)[:44], AudioFormat.WAV, "no samples"),
    ],
)
def test_corrupt_and_truncated_files_are_refused(data: bytes, fmt: AudioFormat, says: str) -> None:
    with pytest.raises(CorruptMedia, match=says):
        decode(data, fmt)


def test_more_than_the_longest_is_refused_from_the_header() -> None:
    eleven_minutes = b"\x00\x00" * 16000 * 660
    with pytest.raises(MediaTooLong, match="660 s long; at most 600 s"):
        decode(eleven_minutes, AudioFormat.PCM)
    with pytest.raises(MediaTooLong):
        decode_audio(PCM, AudioFormat.PCM, sample_rate=None, max_seconds=1)
