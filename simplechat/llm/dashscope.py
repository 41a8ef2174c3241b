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
"""

import inspect
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping, Sequence
from contextlib import aclosing, contextmanager
from typing import Any

import aiohttp

from simplechat.config import Settings
from simplechat.kit.secrets import mask_secret
from simplechat.llm.base import Vendor
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
from simplechat.llm.types import (
    ChatMessage,
    Completion,
    GenerationParams,
    ModelSpec,
    StreamChunk,
    Usage,
)

DASHSCOPE_NAME = "dashscope"
DASHSCOPE_LABEL = "DashScope"
RESULT_FORMAT = "message"
STILL_GENERATING = "null"  # DashScope's finish_reason on every stream chunk but the last
CODE_STATUSES = {"InvalidApiKey": 401, "ModelUnavailable": 503}
THROTTLING_PREFIX = "Throttling"
THROTTLING_STATUS = 429
DEFAULT_REQUEST_TIMEOUT_SECONDS = 120.0


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
        text, finish = self._choice(response)
        return Completion(
            text=text,
            model=model.upstream_id,
            finish_reason=finish or "stop",
            usage=parse_usage(response),
        )

    async def stream(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[StreamChunk, None]:
        """Text deltas, then one chunk with the finish reason and usage. A mid-stream error
        (e.g. output moderation) raises after the chunks already yielded."""
        with own_key_refusals(params.api_key, self.name, self.label):
            responses, first = await call_with_retry(
                self._retry, self.name, lambda: self._open_stream(model, messages, params)
            )
        async with aclosing(responses), aclosing(self._read_chunks(first, responses)) as chunks:
            with stream_failures(self.name, self.label), self._sdk_failures():
                async for chunk in chunks:
                    yield chunk

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

        options: dict[str, Any] = {}
        if params.temperature is not None:
            options["temperature"] = params.temperature
        if params.top_p is not None:
            options["top_p"] = params.top_p
        if stream:
            options.update(stream=True, incremental_output=True)
        sdk_messages: Any = [{"role": m.role.value, "content": m.content} for m in messages]
        return await dashscope.AioGeneration.call(
            model=model.upstream_id,
            messages=sdk_messages,
            api_key=params.api_key or self._api_key,  # the caller's own key first
            base_address=self._base_url,
            result_format=RESULT_FORMAT,
            max_tokens=params.max_tokens,
            request_timeout=self._request_timeout,
            session=self._session,
            **options,
        )

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
        finish: str | None = None
        usage: Usage | None = None
        response = first
        while response is not None:
            self._check(response, retryable=False)
            text, finish = self._choice(response)
            usage = parse_usage(response) or usage
            if text:
                yield StreamChunk(delta=text)
            response = await anext(rest, None)
        if finish is None:
            raise stream_cut(self.name, self.label)
        yield StreamChunk(finish_reason=finish, usage=usage)

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

    def _choice(self, response: Any) -> tuple[str, str | None]:
        """(text, finish reason or None while generating) of a message- or text-format reply."""
        output = getattr(response, "output", None) or {}
        choices = output.get("choices")
        if choices:
            message = choices[0].get("message") or {}
            return str(message.get("content") or ""), _finish(choices[0].get("finish_reason"))
        if output.get("text") is not None:
            return str(output["text"]), _finish(output.get("finish_reason"))
        raise bad_response(self.name, self.label, "no choices in the output")

    @contextmanager
    def _sdk_failures(self) -> Iterator[None]:
        """The SDK parses replies itself; a malformed one surfaces as one of these."""
        try:
            yield
        except (aiohttp.ContentTypeError, ValueError, TypeError, KeyError) as exc:
            raise bad_response(self.name, self.label, type(exc).__name__) from exc


def parse_usage(response: Any) -> Usage | None:
    usage = getattr(response, "usage", None)
    if not usage or usage.get("input_tokens") is None:
        return None
    return Usage(int(usage["input_tokens"]), int(usage.get("output_tokens") or 0))


def _finish(value: Any) -> str | None:
    return None if value in (None, "", STILL_GENERATING) else str(value)


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
)
