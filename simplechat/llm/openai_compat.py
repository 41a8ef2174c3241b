"""A provider for any OpenAI-compatible `POST {base_url}/chat/completions` (OpenRouter, vLLM,
llama.cpp, Ollama, OpenAI itself), over the application's shared aiohttp session.

Streaming reads Server-Sent Events: comment lines (`: OPENROUTER PROCESSING` keep-alives) are
skipped, `data:` lines are JSON chunks, and `data: [DONE]` ends the stream. The last chunk this
provider yields carries the finish reason and the usage from the upstream's usage chunk (the one
with empty `choices`; `stream_options.include_usage` asks generic servers to send it). A chunk
with a top-level `error` raises the mapped error after the chunks already yielded; so does an end
of stream before any finish reason (a cut connection). See `retry` for the error mapping.
"""

import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any, NoReturn

import aiohttp

from simplechat.config import Settings
from simplechat.kit.secrets import mask_url
from simplechat.llm.base import Vendor
from simplechat.llm.openai_wire import (
    OPENAI_DIALECT,
    ChunkReader,
    WireDialect,
    embeddings_payload,
    parse_completion,
    parse_embeddings,
    to_payload,
)
from simplechat.llm.retry import (
    RetryPolicy,
    bad_response,
    call_with_retry,
    error_for_status,
    failure_for_status,
    own_key_refusals,
    parse_retry_after,
    stream_cut,
    stream_failures,
    transport_failures,
)
from simplechat.llm.streams import chunk_without_reasoning, hides_reasoning, without_reasoning
from simplechat.llm.types import (
    ChatMessage,
    Completion,
    EmbeddingParams,
    Embeddings,
    GenerationParams,
    ModelSpec,
    StreamChunk,
)

CHAT_PATH = "/chat/completions"
EMBEDDINGS_PATH = "/embeddings"
SSE_DONE = "[DONE]"
SSE_DATA = "data:"
MIDSTREAM_DEFAULT_STATUS = 502
OPENAI_NAME = "openai"
OPENAI_LABEL = "OpenAI-compatible server"


class OpenAICompatProvider:
    """Chat completions against an OpenAI-compatible server.

    `label` names the upstream in error messages ("The server's OpenRouter API key was refused").
    `timeout` overrides the session's timeouts for this provider's requests.
    """

    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: str | None,
        *,
        label: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        dialect: WireDialect = OPENAI_DIALECT,
    ) -> None:
        self.name = name
        self.label = label or name
        self._session = session
        self._url = base_url.rstrip("/") + CHAT_PATH
        self._embeddings_url = base_url.rstrip("/") + EMBEDDINGS_PATH
        self._dialect = dialect
        self._headers = dict(extra_headers or {})
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._retry = retry or RetryPolicy()
        self._request_options: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}

    async def complete(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Completion:
        """One whole answer. Retries 429/5xx/transport failures per the retry policy."""
        payload = to_payload(model, messages, params, stream=False, dialect=self._dialect)
        headers = self._headers_for(params.api_key)
        with own_key_refusals(params.api_key, self.name, self.label):
            body = await call_with_retry(
                self._retry, self.name, lambda: self._post(self._url, payload, headers)
            )
        completion = parse_completion(body, model)
        if completion is None:
            raise bad_response(self.name, self.label, "no message in the first choice")
        return without_reasoning(completion) if hides_reasoning(params) else completion

    async def stream(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[StreamChunk, None]:
        """Text, reasoning and tool-call deltas, then one last chunk with the finish reason
        and usage (if sent); see `openai_wire.ChunkReader`.

        Retries happen only while opening the stream; once a chunk was yielded, a failure raises.
        """
        payload = to_payload(model, messages, params, stream=True, dialect=self._dialect)
        headers = self._headers_for(params.api_key)
        with own_key_refusals(params.api_key, self.name, self.label):
            response = await call_with_retry(
                self._retry, self.name, lambda: self._open(payload, headers)
            )
        hidden = hides_reasoning(params)
        async with response, aclosing(self._read_chunks(response)) as chunks:
            with stream_failures(self.name, self.label):
                async for chunk in chunks:
                    shown = chunk_without_reasoning(chunk) if hidden else chunk
                    if shown is not None:
                        yield shown

    async def embed(
        self, model: ModelSpec, inputs: Sequence[str], params: EmbeddingParams
    ) -> Embeddings:
        """One vector per input (`POST /embeddings`, floats asked for). Retried like a call."""
        payload = embeddings_payload(model, inputs, params)
        headers = self._headers_for(params.api_key)
        with own_key_refusals(params.api_key, self.name, self.label):
            body = await call_with_retry(
                self._retry, self.name, lambda: self._post(self._embeddings_url, payload, headers)
            )
        embeddings = parse_embeddings(body, model, len(inputs))
        if embeddings is None:
            raise bad_response(self.name, self.label, "not one embedding per input")
        return embeddings

    async def aclose(self) -> None:
        """Nothing to release: the shared session belongs to the application."""

    # --- transport ---
    def _headers_for(self, api_key: str | None) -> dict[str, str]:
        """The headers of one call: the caller's own key, when given, replaces the server's."""
        if api_key is None:
            return self._headers
        return {**self._headers, "Authorization": f"Bearer {api_key}"}

    async def _post(
        self, url: str, payload: dict[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        with transport_failures(self.name, self.label):
            async with self._session.post(
                url, json=payload, headers=headers, **self._request_options
            ) as response:
                text = await response.text()
                if response.status != 200:
                    self._raise_status(response.status, text, response.headers)
        body = self._decode(text)
        if "error" in body:  # a 200 carrying an error: the model failed after it was chosen
            self._raise_error_object(body["error"], retryable=True)
        return body

    async def _open(
        self, payload: dict[str, Any], headers: Mapping[str, str]
    ) -> aiohttp.ClientResponse:
        with transport_failures(self.name, self.label):
            response = await self._session.post(
                self._url, json=payload, headers=headers, **self._request_options
            )
            if response.status != 200:
                async with response:
                    text = await response.text()
                self._raise_status(response.status, text, response.headers)
        return response

    async def _read_chunks(
        self, response: aiohttp.ClientResponse
    ) -> AsyncGenerator[StreamChunk, None]:
        reader = ChunkReader()
        done = False
        async for data in sse_data(response.content):
            if data == SSE_DONE:
                done = True
                break
            chunk = self._decode(data)
            if "error" in chunk:
                self._raise_error_object(chunk["error"], retryable=False)
            for piece in reader.read(chunk):
                yield piece
        if not reader.finished and not done:
            raise stream_cut(self.name, self.label)
        for piece in reader.end():
            yield piece

    # --- vendor JSON ---
    def _decode(self, text: str) -> dict[str, Any]:
        try:
            body = json.loads(text)
        except ValueError:
            raise bad_response(self.name, self.label, "not valid JSON") from None
        if not isinstance(body, dict):
            raise bad_response(self.name, self.label, "not a JSON object")
        return body

    def _raise_status(self, status: int, text: str, headers: Mapping[str, str]) -> NoReturn:
        message, error_type = error_details(text)
        retry_after = parse_retry_after(headers.get("Retry-After"))
        raise failure_for_status(
            self.name, self.label, status, message, error_type=error_type, retry_after=retry_after
        )

    def _raise_error_object(self, error: Any, *, retryable: bool) -> NoReturn:
        """An `error` object inside a 200 body or an SSE chunk; `code` may be an int or a string."""
        message, error_type = describe_error(error)
        code = error.get("code") if isinstance(error, dict) else None
        status = code if isinstance(code, int) and 400 <= code < 600 else MIDSTREAM_DEFAULT_STATUS
        if retryable:
            raise failure_for_status(self.name, self.label, status, message, error_type=error_type)
        raise error_for_status(self.name, self.label, status, message, error_type=error_type)


def error_details(text: str) -> tuple[str, str | None]:
    """(message, error type) from an OpenAI/OpenRouter error body; the raw text if not JSON."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body:
        return describe_error(body["error"])
    return text.strip() or "no details", None


def describe_error(error: Any) -> tuple[str, str | None]:
    """(message, type) of an `error` object; the type is `metadata.error_type`, `type` or a
    string `code` (an int `code` is an HTTP status)."""
    if not isinstance(error, dict):
        return str(error), None
    metadata = error.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    code = error.get("code") if isinstance(error.get("code"), str) else None
    error_type = metadata.get("error_type") or error.get("type") or code
    return str(error.get("message") or "no details"), str(error_type) if error_type else None


async def sse_data(content: aiohttp.StreamReader) -> AsyncIterator[str]:
    """The `data` of each Server-Sent Event; comment lines and other fields are skipped."""
    lines: list[str] = []
    async for raw in content:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
        elif line.startswith(SSE_DATA):
            lines.append(line[len(SSE_DATA) :].removeprefix(" "))
    if lines:
        yield "\n".join(lines)


def _build(
    settings: Settings, session: aiohttp.ClientSession, retry: RetryPolicy
) -> OpenAICompatProvider:
    assert settings.openai_base_url
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAICompatProvider(
        OPENAI_NAME, session, settings.openai_base_url, key, label=OPENAI_LABEL, retry=retry
    )


OPENAI_API_URL = "https://api.openai.com/v1"  # BYOK without SIMPLECHAT_OPENAI_BASE_URL


def _build_byok(
    settings: Settings, session: aiohttp.ClientSession, retry: RetryPolicy
) -> OpenAICompatProvider:
    """No server key: each call carries the user's own, to SIMPLECHAT_OPENAI_BASE_URL or else
    OpenAI's own API."""
    base_url = settings.openai_base_url or OPENAI_API_URL
    return OpenAICompatProvider(
        OPENAI_NAME, session, base_url, None, label=OPENAI_LABEL, retry=retry
    )


def _describe(settings: Settings) -> str:
    if not settings.openai_base_url:
        return "set SIMPLECHAT_OPENAI_BASE_URL (Ollama, vLLM, llama.cpp, LM Studio...)"
    return mask_url(settings.openai_base_url)


# Any OpenAI-compatible server at SIMPLECHAT_OPENAI_BASE_URL (models with provider "openai").
VENDOR = Vendor(
    name=OPENAI_NAME,
    label=OPENAI_LABEL,
    configured=lambda settings: bool(settings.openai_base_url),
    describe=_describe,
    build=_build,
    sends_images=True,
    build_byok=_build_byok,
)
