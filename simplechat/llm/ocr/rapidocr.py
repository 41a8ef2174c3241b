"""Local picture-to-text with RapidOCR on onnxruntime (the `local-media` extra; its wheel
carries the PP-OCR detection, direction and recognition models for Chinese and English)."""

from simplechat.llm import local_jobs
from simplechat.llm.local import LocalRunner
from simplechat.llm.ocr.base import OcrLine, OcrText, Picture

RAPIDOCR_NAME = "rapidocr"


class RapidOcr:
    name = RAPIDOCR_NAME

    def __init__(self, runner: LocalRunner) -> None:
        self._runner = runner

    async def read(self, picture: Picture) -> OcrText:
        """Lines top to bottom, each with its box (in the upright picture) and confidence."""
        found = await self._runner.run(self.name, local_jobs.read_text, picture.data)
        lines = tuple(
            OcrLine(text=text, box=tuple((x, y) for x, y in box), confidence=round(score, 4))
            for text, box, score in found
        )
        return OcrText(text="\n".join(line.text for line in lines), lines=lines)

    async def aclose(self) -> None:
        """Nothing to release: the worker processes belong to the process (see `local`)."""
