"""The local engines' work, run inside the worker processes of `local.LocalRunner`.

Each worker process loads an engine the first time it needs it and keeps it: pocketsphinx's
English model (in its wheel) and RapidOCR's PP-OCR models (in its wheel), so nothing is
downloaded. Only plain values cross the process boundary (bytes in; str, floats, tuples out),
and failures come back as `LocalJobError` with a message fit for the caller.

pocketsphinx holds the GIL while it decodes (a 20 s clip stalled an event loop for 0.8 s in a
thread), which is why these run in processes rather than threads.
"""

import io
import logging
import os
import threading
import time
from typing import Any

SAMPLE_RATE = 16_000
BYTES_PER_SECOND = SAMPLE_RATE * 2
MARGIN_SECONDS = 0.25
PARENT_CHECK_SECONDS = 1.0

_engines: dict[str, Any] = {}


class LocalJobError(Exception):
    """A local engine failed on this input (the worker itself is fine)."""


def _decoder() -> Any:
    if "sphinx" not in _engines:
        from pocketsphinx import Decoder

        _engines["sphinx"] = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
    return _engines["sphinx"]


def _ocr() -> Any:
    if "ocr" not in _engines:
        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.WARNING)  # it logs each step at INFO
        _engines["ocr"] = RapidOCR()
    return _engines["ocr"]


def watch_parent(parent_pid: int) -> None:
    """The pool's initializer: end this worker as soon as its server process is gone.

    A server stopped by a signal (or killed) does not always shut its pool down, and a worker
    left behind holds hundreds of MB of models; checking every second costs nothing."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="simplechat-parent-watch", daemon=True).start()


def warm(kind: str) -> bool:
    """Load an engine now (tests and `simplechat serve` warm-ups)."""
    (_decoder if kind == "speech" else _ocr)()
    return True


def transcribe(pcm: bytes) -> list[tuple[float, float, str]]:
    """(start, end, text) of each stretch of speech in 16 kHz mono PCM.

    The voice-activity segmenter splits the audio at pauses, and each stretch is decoded as
    one utterance: pocketsphinx's language model is made for sentences, not whole minutes.
    Each stretch is decoded with a quarter second of the audio around it: the segmenter cuts
    close, and a clipped first consonant ("please" heard as "these") changes the words.
    """
    from pocketsphinx import Segmenter

    decoder = _decoder()
    segmenter = Segmenter(sample_rate=SAMPLE_RATE)
    # Segmenter.segment only closes a stretch still open at the end when the last read is
    # short: one more silent sample makes sure the end of the audio is heard.
    padded = pcm + b"\0\0" if len(pcm) % segmenter.frame_bytes == 0 else pcm
    segments: list[tuple[float, float, str]] = []
    try:
        for speech in segmenter.segment(io.BytesIO(padded)):
            start = max(0.0, float(speech.start_time) - MARGIN_SECONDS)
            end = min(len(pcm) / BYTES_PER_SECOND, float(speech.end_time) + MARGIN_SECONDS)
            decoder.start_utt()
            decoder.process_raw(pcm[_offset(start) : _offset(end)], full_utt=True)
            decoder.end_utt()
            hypothesis = decoder.hyp()
            text = hypothesis.hypstr.strip() if hypothesis is not None else ""
            if text:
                segments.append((round(start, 3), round(end, 3), text))
    except (RuntimeError, ValueError) as exc:
        raise LocalJobError(f"pocketsphinx could not decode the audio ({exc})") from None
    return segments


def _offset(seconds: float) -> int:
    return int(seconds * SAMPLE_RATE) * 2


def read_text(data: bytes) -> list[tuple[str, list[list[float]], float]]:
    """(text, box corners, confidence) of each line RapidOCR finds in an image file."""
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
        result = _ocr()(image)
    except Exception as exc:  # onnxruntime and opencv raise their own types
        raise LocalJobError(f"RapidOCR could not read the picture ({type(exc).__name__})") from None
    if result.txts is None or result.boxes is None or result.scores is None:
        return []
    return [
        (str(text), [[float(x), float(y)] for x, y in box], float(score))
        for text, box, score in zip(result.txts, result.boxes.tolist(), result.scores, strict=True)
    ]
