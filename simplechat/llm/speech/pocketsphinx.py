"""Local English speech recognition with pocketsphinx (the `local-media` extra; its wheel
carries the US English acoustic model, language model and dictionary: no download)."""

from simplechat.llm import local_jobs
from simplechat.llm.local import LocalRunner
from simplechat.llm.speech.base import PcmAudio, Segment, Transcript

POCKETSPHINX_NAME = "pocketsphinx"
ENGLISH = frozenset({"en", "en-us", "en-gb", "english"})


class PocketSphinxSpeech:
    name = POCKETSPHINX_NAME
    vendor: str | None = None
    languages: frozenset[str] | None = ENGLISH

    def __init__(self, runner: LocalRunner) -> None:
        self._runner = runner

    async def transcribe(
        self,
        audio: PcmAudio,
        *,
        language: str | None = None,
        prompt: str | None = None,
        api_key: str | None = None,
    ) -> Transcript:
        """Each stretch of speech (split at pauses) becomes one segment; `prompt` is unused."""
        found = await self._runner.run(self.name, local_jobs.transcribe, audio.pcm)
        segments = tuple(Segment(start, end, text) for start, end, text in found)
        return Transcript(text=" ".join(s.text for s in segments), segments=segments, language="en")

    async def aclose(self) -> None:
        """Nothing to release: the worker processes belong to the process (see `local`)."""
