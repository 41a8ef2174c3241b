"""DashScope (Alibaba Model Studio / Bailian) through the official SDK's async API.

The key and base URL go with every call (`api_key=`, `base_address=`), never into the SDK's
module globals, and the application's aiohttp session goes in as `session=`, so the SDK opens no
shared session of its own. What the SDK (2.0.2) does that this module works around:

- Upstream errors come back as response objects (`status_code`, `code`, `message`), not as
  exceptions; only transport failures raise (aiohttp errors, timeouts). `_check` maps them.
- With `stream=True`, awaiting `AioGeneration.call` returns an async generator and the HTTP
  request is only sent when its first item is pulled, so a stream is "open" (and may still be
  retried) only after that first item arrived; an error before streaming is that first item.
- `request_timeout` replaces the session's timeouts: the whole request for JSON, the idle time
  between chunks for streams.
- A reply that is not JSON surfaces as `ValueError`/`TypeError` from inside the SDK; those become
  `UpstreamBadResponse`. The SDK itself resends once when a pooled connection was dropped.
- Its type stubs say `close_shared_aio_session()` is synchronous and that the async stream is a
  plain `Generator`; both are wrong in 2.0.2, hence the `Any`s below.

Streams ask for `incremental_output=True`: each chunk carries only new text, and every chunk
carries running usage totals, so the last one wins. `finish_reason` is the string "null" until
the final chunk.

Tools, reasoning (`enable_thinking`) and the other options go through the SDK's own arguments
with `result_format="message"`; answers are read as OpenAI's shape (`dashscope_wire`), so tool
calls, streamed argument fragments, `reasoning_content` and logprobs come out as every other
vendor's do.

Embeddings: `TextEmbedding`'s own request (its task and `texts` input, `dimension`), at most
EMBEDDING_BATCH texts per request (DashScope's limit for v3/v4), sent through the SDK's async
API (`BaseAioApi`, over the application's session): `TextEmbedding.call` itself is only
synchronous.
"""

import inspect
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import replace
from functools import partial
from typing import Any

import aiohttp

from simplechat.config import Settings
from simplechat.kit.secrets import mask_secret
from simplechat.llm.base import Vendor
from simplechat.llm.dashscope_wire import (
    embedding_vectors,
    openai_body,
    sdk_messages,
    sdk_options,
)
from simplechat.llm.openai_wire import ChunkReader, parse_completion
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
    Usage,
)

DASHSCOPE_NAME = "dashscope"
DASHSCOPE_LABEL = "DashScope"
RESULT_FORMAT = "message"
EMBEDDING_BATCH = 10
EMBEDDING_TASK_GROUP = "embeddings"
EMBEDDING_FUNCTION = "text-embedding"
EMBEDDING_INPUT_KEY = "texts"
CODE_STATUSES = {"InvalidApiKey": 401, "ModelUnavailable": 503}
THROTTLING_PREFIX = "Throttling"
THROTTLING_STATUS = 429
DEFAULT_REQUEST_TIMEOUT_SECONDS = 120.0
# What `Generation.call` takes (no frequency_penalty, no logit_bias).
DASHSCOPE_PARAMETERS: frozenset[str] = frozenset(
    {"temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty", "tools"}
    | {"tool_choice", "parallel_tool_calls", "response_format", "structured_outputs", "n"}
    | {"logprobs", "top_logprobs", "reasoning"}
)


class DashScopeProvider:
    """Qwen models through `dashscope.AioGeneration`. `base_url` is the API root, e.g.
    https://dashscope.aliyuncs.com/api/v1 (the SDK appends /services/aigc/...)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_key: str,
        base_url: str,
        retry: RetryPolicy | None = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self.name = DASHSCOPE_NAME
        self.label = DASHSCOPE_LABEL
        self._session = session
        self._api_key = api_key
        self._base_url = base_url
        self._retry = retry or RetryPolicy()
        self._request_timeout = request_timeout

    async def complete(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Completion:
        """One whole answer. Retries throttling, 5xx and transport failures per the policy."""
        with own_key_refusals(params.api_key, self.name, self.label):
            response = await call_with_retry(
                self._retry, self.name, lambda: self._generate(model, messages, params)
            )
        body = openai_body(response, key="message")
        completion = parse_completion(body, model) if body is not None else None
        if completion is None:
            raise bad_response(self.name, self.label, "no choices in the output")
        completion = replace(completion, model=model.upstream_id)
        return without_reasoning(completion) if hides_reasoning(params) else completion

    async def stream(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[StreamChunk, None]:
        """Text, reasoning and tool-call deltas, then one chunk with the finish reason and
        usage. A mid-stream error (e.g. output moderation) raises after the chunks already
        yielded."""
        with own_key_refusals(params.api_key, self.name, self.label):
            responses, first = await call_with_retry(
                self._retry, self.name, lambda: self._open_stream(model, messages, params)
            )
        hidden = hides_reasoning(params)
        async with aclosing(responses), aclosing(self._read_chunks(first, responses)) as chunks:
            with stream_failures(self.name, self.label), self._sdk_failures():
                async for chunk in chunks:
                    shown = chunk_without_reasoning(chunk) if hidden else chunk
                    if shown is not None:
                        yield shown

    async def embed(
        self, model: ModelSpec, inputs: Sequence[str], params: EmbeddingParams
    ) -> Embeddings:
        """One vector per input, EMBEDDING_BATCH inputs per request, one after another."""
        vectors: list[tuple[float, ...]] = []
        tokens = 0
        with own_key_refusals(params.api_key, self.name, self.label):
            for start in range(0, len(inputs), EMBEDDING_BATCH):
                batch = list(inputs[start : start + EMBEDDING_BATCH])
                response = await call_with_retry(
                    self._retry, self.name, partial(self._embed_batch, model, batch, params)
                )
                got = embedding_vectors(getattr(response, "output", None), len(batch))
                if got is None:
                    raise bad_response(self.name, self.label, "not one embedding per input")
                vectors.extend(got)
                usage = getattr(response, "usage", None) or {}
                tokens += int(usage.get("total_tokens") or usage.get("input_tokens") or 0)
        return Embeddings(tuple(vectors), model.upstream_id, Usage(tokens, 0))

    async def aclose(self) -> None:
        """Close the SDK's shared session, should any part of the SDK have opened one."""
        sdk = sys.modules.get("dashscope")
        close = getattr(sdk, "close_shared_aio_session", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result

    # --- SDK calls ---
    async def _call(
        self,
        model: ModelSpec,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        stream: bool,
    ) -> Any:
        import dashscope  # imported on first use: the SDK takes about half a second to import

        options: dict[str, Any] = sdk_options(params.options)
        if params.temperature is not None:
            options["temperature"] = params.temperature
        if params.top_p is not None:
            options["top_p"] = params.top_p
        if stream:
            options.update(stream=True, incremental_output=True)
        return await dashscope.AioGeneration.call(
            model=model.upstream_id,
            messages=sdk_messages(messages, model),  # type: ignore[arg-type]
            api_key=params.api_key or self._api_key,  # the caller's own key first
            base_address=self._base_url,
            result_format=RESULT_FORMAT,
            max_tokens=params.max_tokens,
            request_timeout=self._request_timeout,
            session=self._session,
            **options,
        )

    async def _embed_batch(
        self, model: ModelSpec, batch: list[str], params: EmbeddingParams
    ) -> Any:
        from dashscope.client.base_api import BaseAioApi
        from dashscope.embeddings.text_embedding import TextEmbedding

        options: dict[str, Any] = {}
        if params.dimensions is not None:
            options["dimension"] = params.dimensions
        with transport_failures(self.name, self.label), self._sdk_failures():
            response = await BaseAioApi.call(
                model=model.upstream_id,
                input={EMBEDDING_INPUT_KEY: batch},
                task_group=EMBEDDING_TASK_GROUP,
                task=TextEmbedding.task,
                function=EMBEDDING_FUNCTION,
                api_key=params.api_key or self._api_key,
                base_address=self._base_url,
                request_timeout=self._request_timeout,
                session=self._session,
                **options,
            )
        self._check(response, retryable=True)
        return response

    async def _generate(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Any:
        with transport_failures(self.name, self.label), self._sdk_failures():
            response = await self._call(model, messages, params, stream=False)
        self._check(response, retryable=True)
        return response

    async def _open_stream(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> tuple[Any, Any]:
        with transport_failures(self.name, self.label), self._sdk_failures():
            responses = await self._call(model, messages, params, stream=True)
            first = await anext(responses, None)  # the HTTP request is sent here
        if first is None:
            raise bad_response(self.name, self.label, "an empty stream")
        if int(first.status_code) != 200:
            await responses.aclose()
            self._check(first, retryable=True)
        return responses, first

    async def _read_chunks(
        self, first: Any, rest: AsyncIterator[Any]
    ) -> AsyncGenerator[StreamChunk, None]:
        reader = ChunkReader()
        response = first
        while response is not None:
            self._check(response, retryable=False)
            chunk = openai_body(response, key="delta")
            if chunk is None:
                raise bad_response(self.name, self.label, "no choices in the output")
            for piece in reader.read(chunk):
                yield piece
            response = await anext(rest, None)
        if not reader.finished:
            raise stream_cut(self.name, self.label)
        for piece in reader.end():
            yield piece

    # --- vendor responses ---
    def _check(self, response: Any, *, retryable: bool) -> None:
        """Raise the mapped error for an SDK error response; return for a 200."""
        status = int(response.status_code)
        if status == 200:
            return
        code = str(response.code or "")
        if code.startswith(THROTTLING_PREFIX):
            status = THROTTLING_STATUS
        status = CODE_STATUSES.get(code, status)
        message = str(response.message or code or "no details")
        retry_after = parse_retry_after(_header(response, "Retry-After"))
        args = (self.name, self.label, status, message)
        if retryable:
            raise failure_for_status(*args, error_type=code, retry_after=retry_after)
        raise error_for_status(*args, error_type=code)

    @contextmanager
    def _sdk_failures(self) -> Iterator[None]:
        """The SDK parses replies itself; a malformed one surfaces as one of these."""
        try:
            yield
        except (aiohttp.ContentTypeError, ValueError, TypeError, KeyError) as exc:
            raise bad_response(self.name, self.label, type(exc).__name__) from exc


def _header(response: Any, name: str) -> str | None:
    headers: Mapping[str, str] = getattr(response, "headers", None) or {}
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def _build(
    settings: Settings, session: aiohttp.ClientSession, retry: RetryPolicy
) -> DashScopeProvider:
    assert settings.dashscope_api_key is not None
    return DashScopeProvider(
        session,
        api_key=settings.dashscope_api_key.get_secret_value(),
        base_url=settings.dashscope_base_url,
        retry=retry,
        request_timeout=settings.read_timeout_seconds,
    )


def _build_byok(
    settings: Settings, session: aiohttp.ClientSession, retry: RetryPolicy
) -> DashScopeProvider:
    """No server key: each call carries the user's own (`api_key=` of the SDK call)."""
    return DashScopeProvider(
        session,
        api_key="",
        base_url=settings.dashscope_base_url,
        retry=retry,
        request_timeout=settings.read_timeout_seconds,
    )


def _describe(settings: Settings) -> str:
    if settings.dashscope_api_key is None:
        return "set DASHSCOPE_API_KEY"
    return f"key {mask_secret(settings.dashscope_api_key)}, {settings.dashscope_base_url}"


VENDOR = Vendor(
    name=DASHSCOPE_NAME,
    label=DASHSCOPE_LABEL,
    configured=lambda settings: settings.dashscope_api_key is not None,
    describe=_describe,
    build=_build,
    build_byok=_build_byok,
    chat_parameters=DASHSCOPE_PARAMETERS,
)
