"""What every picture-to-text engine takes and gives.

Engines receive a picture the media capability has already decoded and checked (a JPEG,
PNG or WebP within the pixel limit); they return its text, line by line. Engines that only
give text (vision models) return lines without boxes or confidences.
"""

import base64
from dataclasses import dataclass
from typing import Protocol

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Picture:
    data: bytes  # the file as uploaded
    mime: str  # image/jpeg | image/png | image/webp
    width: int
    height: int

    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode()}"


@dataclass(frozen=True, slots=True)
class OcrLine:
    text: str
    box: tuple[Point, ...] | None = None  # corners, clockwise from the top left, in pixels
    confidence: float | None = None  # 0..1


@dataclass(frozen=True, slots=True)
class OcrText:
    text: str
    lines: tuple[OcrLine, ...]


class OcrEngine(Protocol):
    """`name` is what responses and records show; `vendor` the provider whose key it uses
    ("dashscope", "openai"; None for a local engine). `api_key`: the caller's own key for
    that provider, used for this call only (None: the server's)."""

    name: str
    vendor: str | None

    async def read(self, picture: Picture, *, api_key: str | None = None) -> OcrText: ...

    async def aclose(self) -> None: ...


def from_text(text: str) -> OcrText:
    """Lines of a model's plain-text answer (no boxes): one per non-empty line, without the
    Markdown code fence (```) some vision models wrap their answer in."""
    kept = [line.strip() for line in text.splitlines()]
    lines = tuple(OcrLine(line) for line in kept if line and not line.startswith("```"))
    return OcrText(text="\n".join(line.text for line in lines), lines=lines)
