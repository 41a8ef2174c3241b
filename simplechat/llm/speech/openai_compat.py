"""Speech-to-text on any OpenAI-compatible server: `POST {base}/audio/transcriptions`
(multipart: the audio as a 16 kHz WAV file, `model`, `response_format=json`, and `language`
and `prompt` when given), over the application's shared aiohttp session."""

import io
import wave

import aiohttp

from simplechat.llm.retry import RetryPolicy, bad_response
from simplechat.llm.speech.base import SAMPLE_RATE, SAMPLE_WIDTH, PcmAudio, Transcript, whole
from simplechat.llm.upstream_json import JsonEndpoint

TRANSCRIPTIONS_PATH = "/audio/transcriptions"
OPENAI_SPEECH_LABEL = "the OpenAI-compatible speech server"


def to_wav(audio: PcmAudio) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(audio.pcm)
    return buffer.getvalue()


class OpenAISpeech:
    languages: frozenset[str] | None = None
    vendor: str | None = "openai"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        retry: RetryPolicy,
    ) -> None:
        self.name = f"openai/{model}"
        self._model = model
        self._endpoint = JsonEndpoint(
            session,
            base_url.rstrip("/") + TRANSCRIPTIONS_PATH,
            api_key=api_key,
            name="openai-speech",
            label=OPENAI_SPEECH_LABEL,
            retry=retry,
        )

    async def transcribe(
        self,
        audio: PcmAudio,
        *,
        language: str | None = None,
        prompt: str | None = None,
        api_key: str | None = None,
    ) -> Transcript:
        """The whole text as one segment (the json format carries no timings)."""
        wav = to_wav(audio)

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field("file", wav, filename="audio.wav", content_type="audio/wav")
            data.add_field("model", self._model)
            data.add_field("response_format", "json")
            if language:
                data.add_field("language", language)
            if prompt:
                data.add_field("prompt", prompt)
            return data

        body = await self._endpoint.post(form=form, api_key=api_key)
        text = body.get("text")
        if not isinstance(text, str):
            raise bad_response("openai-speech", OPENAI_SPEECH_LABEL, "no text in the answer")
        return whole(text, audio, language)

    async def aclose(self) -> None:
        """Nothing to release: the shared session belongs to the application."""
