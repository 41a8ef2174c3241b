"""Local picture-to-text with RapidOCR on onnxruntime (the `local-media` extra; its wheel
carries the PP-OCR detection, direction and recognition models for Chinese and English)."""

from simplechat.llm import local_jobs
from simplechat.llm.local import LocalRunner
from simplechat.llm.ocr.base import OcrLine, OcrText, Picture

RAPIDOCR_NAME = "rapidocr"


class RapidOcr:
    name = RAPIDOCR_NAME
    vendor: str | None = None

    def __init__(self, runner: LocalRunner) -> None:
        self._runner = runner

    async def read(self, picture: Picture, *, api_key: str | None = None) -> OcrText:
        """The text in reading order; each line with its box (in the upright picture) and
        confidence."""
        found = await self._runner.run(self.name, local_jobs.read_text, picture.data)
        lines = [
            OcrLine(text=text, box=tuple((x, y) for x, y in box), confidence=round(score, 4))
            for text, box, score in found
        ]
        return reading_order(lines)

    async def aclose(self) -> None:
        """Nothing to release: the worker processes belong to the process (see `local`)."""


def _middle(line: OcrLine) -> tuple[float, float, float]:
    """(centre x, centre y, height) of a line's box."""
    assert line.box is not None
    xs = [x for x, _ in line.box]
    ys = [y for _, y in line.box]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, max(ys) - min(ys)


def reading_order(lines: list[OcrLine]) -> OcrText:
    """Rows top to bottom, left to right within a row; a row's pieces joined by a space.

    RapidOCR finds pieces of text, not whole lines: on a receipt "Apples 1kg" and "3.20" are
    two boxes, and on a slightly turned photo the price may sit higher than its label. Pieces
    whose centres are within half a piece's height of a row's first piece share that row.
    """
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: _middle(ln)[1]):
        _, y, height = _middle(line)
        if rows:
            _, row_y, row_height = _middle(rows[-1][0])
            if abs(y - row_y) <= max(height, row_height) / 2:
                rows[-1].append(line)
                continue
        rows.append([line])
    ordered = [sorted(row, key=lambda ln: _middle(ln)[0]) for row in rows]
    text = "\n".join(" ".join(piece.text for piece in row) for row in ordered)
    return OcrText(text=text, lines=tuple(piece for row in ordered for piece in row))
