"""Decoding uploaded audio into what every speech engine takes: 16 kHz mono 16-bit PCM.

WAV is read with the standard library's `wave` (WAV encodings it does not know, such as float
samples or WAVE_FORMAT_EXTENSIBLE, go to libsndfile); FLAC, OGG (Vorbis, Opus) and MP3 with
libsndfile through `soundfile` (its wheels carry the library). Audio is read a second at a
time, mixed down to mono and resampled with `soxr` as it goes, so memory stays near the size
of the result (10 minutes: 19 MB) whatever the upload's rate and channels.

Refused with CorruptMedia: an odd byte count of raw PCM, an unreadable or truncated file (fewer
frames than its header announces), no audio at all. With MediaTooLong: more than `max_seconds`,
judged from the header before decoding and again while decoding.
"""

import io
import wave
from collections.abc import Iterator

import numpy as np
import soundfile
import soxr

from simplechat.llm.speech.base import SAMPLE_RATE, PcmAudio
from simplechat.media.errors import CorruptMedia, MediaTooLong
from simplechat.media.rules import seconds_text
from simplechat.media.types import AudioFormat

BLOCK_SECONDS = 1
# A file that decodes to fewer frames than its header announces, by more than this share and
# more than a tenth of a second, was cut short (MP3 headers without a Xing frame count only
# estimate their length, hence the tolerance).
TRUNCATION_TOLERANCE = 0.02
INT16_SCALE = 32768.0
WAV_INT_TYPES = {1: "<u1", 2: "<i2", 4: "<i4"}  # 24-bit samples are widened by hand below

Blocks = Iterator[np.ndarray]  # float32 mono, in [-1, 1]


def decode_audio(
    data: bytes, fmt: AudioFormat, *, sample_rate: int | None, max_seconds: int
) -> PcmAudio:
    """`data` as 16 kHz mono PCM; `sample_rate` is that of raw PCM (default 16 kHz)."""
    if fmt is AudioFormat.PCM:
        rate, declared, blocks = _pcm(data, sample_rate or SAMPLE_RATE)
    elif fmt is AudioFormat.WAV:
        try:
            rate, declared, blocks = _wav(data)
        except wave.Error:  # an encoding `wave` does not read: libsndfile knows more of them
            rate, declared, blocks = _libsndfile(data, fmt)
    else:
        rate, declared, blocks = _libsndfile(data, fmt)
    _check_length(declared, rate, max_seconds)
    pcm, frames = _resample(blocks, rate, max_seconds)
    if frames == 0:
        raise CorruptMedia("The audio holds no samples.")
    if declared - frames > max(declared * TRUNCATION_TOLERANCE, rate / 10):
        announced, held = seconds_text(declared * 1000 // rate), seconds_text(frames * 1000 // rate)
        raise CorruptMedia(
            f"The {fmt.upper()} file is truncated: its header announces {announced} but it "
            f"holds {held}."
        )
    return PcmAudio(pcm)


def _check_length(frames: int, rate: int, max_seconds: int) -> None:
    if frames > max_seconds * rate:
        raise MediaTooLong(
            f"The audio is {seconds_text(frames * 1000 // rate)} long; at most "
            f"{seconds_text(max_seconds * 1000)} ({max_seconds // 60} minutes) are transcribed."
        )


def _pcm(data: bytes, rate: int) -> tuple[int, int, Blocks]:
    if len(data) % 2:
        raise CorruptMedia(
            f"Raw PCM must be 16-bit samples, but the body has an odd number of bytes "
            f"({len(data)}): it is cut or not 16-bit PCM."
        )
    samples = np.frombuffer(data, dtype="<i2")

    def blocks() -> Blocks:
        step = rate * BLOCK_SECONDS
        for start in range(0, len(samples), step):
            yield samples[start : start + step].astype(np.float32) / INT16_SCALE

    return rate, len(samples), blocks()


def _wav(data: bytes) -> tuple[int, int, Blocks]:
    try:
        reader = wave.open(io.BytesIO(data), "rb")  # noqa: SIM115  # closed by blocks()
    except (EOFError, ValueError) as exc:
        raise CorruptMedia(f"The WAV file cannot be read ({exc}).") from None
    rate, channels, width = reader.getframerate(), reader.getnchannels(), reader.getsampwidth()
    if rate <= 0 or channels <= 0 or width not in (1, 2, 3, 4):
        raise CorruptMedia("The WAV header is damaged (rate, channels or sample size).")

    def blocks() -> Blocks:
        with reader:
            while chunk := reader.readframes(rate * BLOCK_SECONDS):
                usable = len(chunk) - len(chunk) % (width * channels)
                yield _wav_block(chunk[:usable], width, channels)

    return rate, reader.getnframes(), blocks()


def _wav_block(chunk: bytes, width: int, channels: int) -> np.ndarray:
    """Interleaved little-endian integer samples -> float32 mono."""
    if width == 3:  # 24-bit: widen each sample to 32 bits (low byte zero)
        raw = np.frombuffer(chunk, dtype=np.uint8).reshape(-1, 3)
        padded = np.zeros((len(raw), 4), dtype=np.uint8)
        padded[:, 1:] = raw
        values = padded.view("<i4").ravel().astype(np.float32) / 2**31
    else:
        ints = np.frombuffer(chunk, dtype=WAV_INT_TYPES[width]).astype(np.float32)
        values = (ints - 128) / 128 if width == 1 else ints / 2 ** (8 * width - 1)
    mono: np.ndarray = values.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return mono


def _libsndfile(data: bytes, fmt: AudioFormat) -> tuple[int, int, Blocks]:
    try:
        sound = soundfile.SoundFile(io.BytesIO(data))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise CorruptMedia(f"The {fmt.upper()} file cannot be read: {_reason(exc)}") from None
    rate = int(sound.samplerate)
    if rate <= 0:
        raise CorruptMedia(f"The {fmt.upper()} header is damaged (no sample rate).")

    def blocks() -> Blocks:
        with sound:
            while True:
                try:
                    block = sound.read(rate * BLOCK_SECONDS, dtype="float32", always_2d=True)
                except (soundfile.LibsndfileError, RuntimeError) as exc:
                    raise CorruptMedia(
                        f"The {fmt.upper()} file is damaged or truncated: {_reason(exc)}"
                    ) from None
                if not len(block):
                    return
                yield block.mean(axis=1, dtype=np.float32)

    return rate, max(0, int(sound.frames)), blocks()


def _reason(exc: Exception) -> str:
    text = str(exc).split(": ", 1)[-1].strip() if ": " in str(exc) else str(exc)
    return text.rstrip(".") + "."


def _resample(blocks: Blocks, rate: int, max_seconds: int) -> tuple[bytes, int]:
    """(16 kHz int16 PCM, frames read at the source rate)."""
    stream = None if rate == SAMPLE_RATE else soxr.ResampleStream(rate, SAMPLE_RATE, 1, "float32")
    out: list[bytes] = []
    frames = 0
    for block in blocks:
        frames += len(block)
        _check_length(frames, rate, max_seconds)
        resampled = block if stream is None else stream.resample_chunk(block)
        out.append(_to_int16(resampled))
    if stream is not None:
        out.append(_to_int16(stream.resample_chunk(np.zeros(0, np.float32), last=True)))
    return b"".join(out), frames


def _to_int16(samples: np.ndarray) -> bytes:
    scaled = np.clip(np.rint(samples * INT16_SCALE), -32768, 32767)
    return scaled.astype("<i2").tobytes()
