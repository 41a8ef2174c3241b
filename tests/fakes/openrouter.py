"""A fake OpenRouter on 127.0.0.1 that speaks the wire format of providers.md §1.

    async with FakeOpenRouter() as fake:
        provider = OpenRouterProvider(session, base_url=fake.base_url, api_key=TEST_API_KEY, ...)

Routes: `POST /api/v1/chat/completions` (JSON, or SSE when the body says `"stream": true`) and
`GET /api/v1/models`. Every request is kept in `fake.requests` (headers and JSON body).

Auth: a missing Bearer key gets 401 "No auth credentials found"; a wrong one 401 "User not found.".

Scripted failures, consumed one per chat request: `fake.fail_next(kind, times=1, **opts)`:
- "status": status=int, message=str, retry_after=seconds (sent as `Retry-After`), metadata=dict
- "context_length": 400 "This endpoint's maximum context length is ..."
  (with metadata.error_type "context_length_exceeded")
- "malformed_json": 200 whose body (or first SSE event) is not JSON
- "drop": close the socket before any reply
- "slow": delay=seconds before answering normally (to trip a read timeout)
- "cut_stream": after=N delta chunks, then close without finish/usage/[DONE]; clean=True ends the
  body properly instead of breaking the connection
- "midstream_error": after=N delta chunks, then a chunk with top-level `error`
  (code=502 or a string, message=...) and finish_reason "error"; done=True also sends [DONE]
"""

import asyncio
import json
import time
from typing import Any, ClassVar

from aiohttp import web

from tests.fakes.upstream import (
    TEST_API_KEY,
    Failure,
    FakeUpstream,
    count_words,
    cut_connection,
    default_reply,
    drop_connection,
    word_pieces,
)

KEEPALIVE = b": OPENROUTER PROCESSING\n\n"
CONTEXT_MESSAGE = (
    "This endpoint's maximum context length is 8192 tokens. However, you requested about "
    "9500 tokens (8500 of text input, 1000 in the output). Please reduce the length of either "
    'one, or use the "middle-out" transform to compress your prompt automatically.'
)
STATUS_MESSAGES = {
    400: "Invalid request parameters",
    402: "Insufficient credits. Add more using https://openrouter.ai/credits",
    403: "Your chosen model requires moderation and your input was flagged",
    408: "Operation timed out. Please try again later.",
    429: "Rate limit exceeded: free-models-per-day.",
    500: "Internal Server Error",
    502: "Provider returned error",
    503: "No instances available",
}
DEFAULT_MODELS: list[dict[str, Any]] = [
    {"id": "mistralai/mistral-7b-instruct", "context_length": 32768},
    {"id": "openchat/openchat-7b", "context_length": 8192},
]


def error_body(status: int, message: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": message}
    if metadata:
        error["metadata"] = metadata
    return {"error": error}


class FakeOpenRouter(FakeUpstream):
    FAILURE_KINDS: ClassVar[frozenset[str]] = frozenset(
        {"status", "context_length", "malformed_json", "drop", "slow", "cut_stream"}
        | {"midstream_error"}
    )

    def __init__(self, api_key: str = TEST_API_KEY, reply: str | None = None) -> None:
        super().__init__(api_key)
        self.reply = reply  # None: greet by name (see default_reply)
        self.keepalive_between_chunks = False
        self.chunk_delay = 0.0  # seconds between delta chunks
        self.aborted_streams = 0  # streams whose client hung up before the end
        self.models = list(DEFAULT_MODELS)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(self.API_PREFIX + "/chat/completions", self.chat),
            web.get(self.API_PREFIX + "/models", self.list_models),
        ]

    async def list_models(self, request: web.Request) -> web.Response:
        await self.record(request)
        data = [
            {**m, "name": m["id"], "pricing": {"prompt": "0", "completion": "0"}}
            for m in self.models
        ]
        return web.json_response({"data": data})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await self.record(request)
        key = self.bearer_key(request)
        if key is None:
            return web.json_response(error_body(401, "No auth credentials found"), status=401)
        if not self.accepts(key):
            return web.json_response(error_body(401, "User not found."), status=401)
        failure = self.take_failure()
        if failure is not None and failure.kind not in {"cut_stream", "midstream_error"}:
            early = await self._fail_early(request, failure, bool(body.get("stream")))
            if early is not None:
                return early
            failure = None
        messages = body.get("messages") or []
        text = self.reply if self.reply is not None else default_reply(messages)
        usage = {
            "prompt_tokens": sum(count_words(str(m.get("content", ""))) for m in messages),
            "completion_tokens": count_words(text),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if body.get("stream"):
            return await self._stream(request, body["model"], text, usage, failure)
        return web.json_response(self._completion(body["model"], text, usage))

    async def _fail_early(
        self, request: web.Request, failure: Failure, stream: bool
    ) -> web.StreamResponse | None:
        opts = failure.opts
        if failure.kind == "status":
            status = int(opts.get("status", 500))
            headers = {}
            if opts.get("retry_after") is not None:
                headers["Retry-After"] = str(opts["retry_after"])
            message = opts.get("message", STATUS_MESSAGES.get(status, "Error"))
            body = error_body(status, message, opts.get("metadata"))
            return web.json_response(body, status=status, headers=headers)
        if failure.kind == "context_length":
            body = error_body(400, CONTEXT_MESSAGE, {"error_type": "context_length_exceeded"})
            return web.json_response(body, status=400)
        if failure.kind == "malformed_json":
            if stream:
                return await self._malformed_stream(request)
            return web.Response(
                text='{"id": "gen-1", "choices": [', content_type="application/json"
            )
        if failure.kind == "drop":
            return await drop_connection(request)
        await asyncio.sleep(float(opts.get("delay", 5.0)))  # "slow"
        return None

    def _completion(self, model: str, text: str, usage: dict[str, int]) -> dict[str, Any]:
        message = {"role": "assistant", "content": text}
        return {
            "id": "gen-fake-1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "provider": "FakeProvider",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "native_finish_reason": "stop",
                    "message": message,
                }
            ],
            "usage": usage,
        }

    def _chunk(self, model: str, **fields: Any) -> bytes:
        chunk = {
            "id": "gen-fake-1",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "provider": "FakeProvider",
            **fields,
        }
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    async def _stream(
        self,
        request: web.Request,
        model: str,
        text: str,
        usage: dict[str, int],
        failure: Failure | None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(KEEPALIVE)
        pieces = word_pieces(text)
        stop_after = int(failure.opts.get("after", 2)) if failure else len(pieces)
        try:
            for piece in pieces[:stop_after]:
                delta = {"role": "assistant", "content": piece}
                await response.write(self._chunk(model, choices=[self._choice(delta, None)]))
                if self.keepalive_between_chunks:
                    await response.write(KEEPALIVE)
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
        except (ConnectionResetError, asyncio.CancelledError):
            self.aborted_streams += 1  # the client (simplechat) hung up mid-stream
            raise
        if failure is not None:
            return await self._end_stream_early(request, response, model, failure)
        finish = self._choice({"role": "assistant", "content": ""}, "stop")
        await response.write(self._chunk(model, choices=[finish]))
        await response.write(self._chunk(model, choices=[], usage=usage))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    @staticmethod
    def _choice(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "finish_reason": finish, "native_finish_reason": finish}

    async def _end_stream_early(
        self, request: web.Request, response: web.StreamResponse, model: str, failure: Failure
    ) -> web.StreamResponse:
        opts = failure.opts
        if failure.kind == "midstream_error":
            error = {
                "code": opts.get("code", 502),
                "message": opts.get("message", "Provider disconnected unexpectedly"),
                "metadata": {"error_type": "provider_unavailable"},
            }
            choice = self._choice({"content": ""}, "error")
            await response.write(self._chunk(model, error=error, choices=[choice]))
            if opts.get("done"):
                await response.write(b"data: [DONE]\n\n")
        elif not opts.get("clean"):  # "cut_stream" through a broken connection
            return await cut_connection(response, request)
        await response.write_eof()
        return response

    async def _malformed_stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(KEEPALIVE + b'data: {"id": "gen-1", "choices": [\n\n')
        await response.write_eof()
        return response
