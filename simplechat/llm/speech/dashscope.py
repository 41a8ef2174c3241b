"""Speech-to-text with DashScope's Paraformer (`paraformer-realtime-v2`) through the official
SDK's `dashscope.audio.asr.Recognition`.

Recognition speaks WebSocket, not HTTP (providers.md §4.2): it connects to the `base_address`
it is given (the full `.../api-ws/v1/inference` URL), sends `run-task`, waits for
`task-started`, streams the audio as binary frames, sends `finish-task`, and collects the
final sentences of the `result-generated` events until `task-finished` (or `task-failed`).
The key and the URL go with every call, never into the SDK's module globals.

What the SDK (2.0.2) does that this module works around:
- `Recognition.call` takes a file path, so the PCM goes through a temporary file.
- It is synchronous and runs its own event loop on a thread of its own (`async_to_sync`), with
  an aiohttp session per call: it is run with `asyncio.to_thread`, and cannot use the
  application's session.
- Failures come back as results, not exceptions: `status_code` 44 with the server's
  `error_code` for `task-failed`, the HTTP status for a refused handshake (401/403: "your
  api-key is invalid"), and -1 for transport failures (code `ClientConnectorError`, or
  `Unknown` with the exception's type in the message, e.g. a timeout).
"""

import asyncio
import tempfile
from typing import Any

from simplechat.kit.errors import UpstreamBadResponse, UpstreamTimeout, UpstreamUnavailable
from simplechat.llm.retry import (
    RetryableError,
    RetryPolicy,
    call_with_retry,
    failure_for_status,
    own_key_refusals,
)
from simplechat.llm.speech.base import SAMPLE_RATE, PcmAudio, Segment, Transcript

DASHSCOPE_SPEECH_NAME = "dashscope-speech"
LABEL = "DashScope"
TASK_FAILED_STATUS = 44  # the SDK's WEBSOCKET_ERROR_CODE
TRANSPORT_FAILED_STATUS = -1
CODE_STATUSES = {"InvalidApiKey": 401, "InternalError": 500, "ModelUnavailable": 503}
THROTTLING_PREFIX = "Throttling"


class DashScopeSpeech:
    languages: frozenset[str] | None = None  # paraformer-realtime-v2: zh, en, ja, ko, ...
    vendor: str | None = "dashscope"

    def __init__(
        self,
        *,
        api_key: str,
        websocket_url: str,
        model: str,
        timeout_seconds: float,
        retry: RetryPolicy,
    ) -> None:
        self.name = f"dashscope/{model}"
        self._api_key = api_key
        self._url = websocket_url
        self._model = model
        self._timeout = timeout_seconds
        self._retry = retry

    async def transcribe(
        self,
        audio: PcmAudio,
        *,
        language: str | None = None,
        prompt: str | None = None,
        api_key: str | None = None,
    ) -> Transcript:
        """One segment per final sentence; `language` becomes a hint, `prompt` is unused."""

        # Imported here, on the event loop's thread, not in the worker thread: a first import
        # there racing the OCR engine's first import of `dashscope` deadlocks the import lock.
        from dashscope.audio.asr import Recognition  # noqa: F401

        async def attempt() -> Any:
            result = await asyncio.to_thread(
                self._recognize, audio, language, api_key or self._api_key
            )
            self._check(result)
            return result

        with own_key_refusals(api_key, "dashscope", LABEL):
            result = await call_with_retry(self._retry, DASHSCOPE_SPEECH_NAME, attempt)
        sentences = result.get_sentence() or []
        segments = tuple(
            Segment(
                start=float(s.get("begin_time") or 0) / 1000,
                end=float(s.get("end_time") or 0) / 1000,
                text=str(s.get("text") or "").strip(),
            )
            for s in sentences
            if isinstance(s, dict) and str(s.get("text") or "").strip()
        )
        return Transcript(text=join_sentences(s.text for s in segments), segments=segments,
                          language=language)  # fmt: skip

    def _recognize(self, audio: PcmAudio, language: str | None, api_key: str) -> Any:
        from dashscope.audio.asr import Recognition  # the SDK is slow to import: on first use

        options: dict[str, Any] = {"language_hints": [language]} if language else {}
        # The whole request, audio included, must fit the SDK's one timeout.
        timeout = self._timeout + audio.duration_ms / 1000
        with tempfile.NamedTemporaryFile(suffix=".pcm") as file:
            file.write(audio.pcm)
            file.flush()
            # `call` (a whole file) reports through its result: no callback is needed.
            no_callback: Any = None
            recognition = Recognition(
                model=self._model,
                callback=no_callback,
                format="pcm",
                sample_rate=SAMPLE_RATE,
                api_key=api_key,  # per call: never the SDK's process-wide setting
                base_address=self._url,
                request_timeout=timeout,
                **options,
            )
            return recognition.call(file.name)

    def _check(self, result: Any) -> None:
        status = int(result.status_code)
        if status == 200:
            return
        code = str(result.code or "")
        message = str(result.message or code or "no details")
        extra = {"provider": DASHSCOPE_SPEECH_NAME}
        if status == TRANSPORT_FAILED_STATUS:
            if "Timeout" in message:
                raise UpstreamTimeout(f"{LABEL} did not answer in time.", extra=extra)
            if code == "ClientConnectorError":
                error = UpstreamUnavailable(f"Could not reach {LABEL}.", extra=extra)
                raise RetryableError(error)
            raise UpstreamBadResponse(f"{LABEL} speech recognition failed: {message}", extra=extra)
        if status == TASK_FAILED_STATUS:
            status = 429 if code.startswith(THROTTLING_PREFIX) else CODE_STATUSES.get(code, 400)
        raise failure_for_status(DASHSCOPE_SPEECH_NAME, LABEL, status, message, error_type=code)

    async def aclose(self) -> None:
        """Nothing to release: each recognition opens and closes its own connection."""


def join_sentences(texts: Any) -> str:
    """Sentences joined with a space, except after Chinese or Japanese text and punctuation."""
    joined = ""
    for text in texts:
        if joined and not _is_wide(joined[-1]):
            joined += " "
        joined += text
    return joined


def _is_wide(char: str) -> bool:
    return ord(char) >= 0x2E80  # CJK radicals onwards, fullwidth punctuation included
