"""A fake OpenRouter on 127.0.0.1 that speaks the wire format of providers.md §1.

    async with FakeOpenRouter() as fake:
        provider = OpenRouterProvider(session, base_url=fake.base_url, api_key=TEST_API_KEY, ...)

Routes: `POST /api/v1/chat/completions` (JSON, or SSE when the body says `"stream": true`),
`POST /api/v1/embeddings` and `GET /api/v1/models`. Every request is kept in `fake.requests`
(headers and JSON body).

The model behind it is `tests.fakes.answers` (`fake.script` steers it): it calls offered
tools (message `tool_calls`, finish_reason "tool_calls"; streamed as OpenAI's deltas: the
first of a call with index, id, type and name, then argument fragments), answers tool
results, writes JSON for `response_format`, and thinks when asked (`reasoning` object:
`message.reasoning` / `delta.reasoning`, counted in
`usage.completion_tokens_details.reasoning_tokens`; `exclude` hides it). It answers one
choice whatever `n` says, as OpenRouter does. `logprobs: true` gives a logprob per word.
`fake.replay_next(data)` makes the next stream exactly those recorded bytes.

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
import base64
import json
import struct
import time
from collections import deque
from typing import Any, ClassVar

from aiohttp import web

from tests.fakes.answers import Answer, Script, answer, embedding, prompt_tokens
from tests.fakes.upstream import (
    TEST_API_KEY,
    Failure,
    FakeUpstream,
    count_words,
    cut_connection,
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


ARGUMENT_PIECES = 3  # a streamed call's arguments come in about this many fragments
EMBEDDING_SIZE = 1536


class FakeOpenRouter(FakeUpstream):
    FAILURE_KINDS: ClassVar[frozenset[str]] = frozenset(
        {"status", "context_length", "malformed_json", "drop", "slow", "cut_stream"}
        | {"midstream_error"}
    )
    # How this vendor differs from the OpenAI-compatible fake (see openai_compat.py).
    REASONING_FIELD: ClassVar[str] = "reasoning"
    KEEPALIVE_FIRST: ClassVar[bool] = True
    USAGE_ALWAYS: ClassVar[bool] = True  # else only with stream_options.include_usage
    ANSWERS_N: ClassVar[bool] = False
    ID_PREFIX: ClassVar[str] = "gen-fake"

    def __init__(self, api_key: str = TEST_API_KEY, reply: str | None = None) -> None:
        super().__init__(api_key)
        self.script = Script(reply=reply)
        self.keepalive_between_chunks = False
        self.chunk_delay = 0.0  # seconds between delta chunks
        self.aborted_streams = 0  # streams whose client hung up before the end
        self.models = list(DEFAULT_MODELS)
        self._replays: deque[bytes] = deque()

    @property
    def reply(self) -> str | None:
        return self.script.reply

    @reply.setter
    def reply(self, value: str | None) -> None:
        self.script.reply = value

    def replay_next(self, data: bytes) -> None:
        """Make the next streamed chat answer exactly `data` (a recorded stream)."""
        self._replays.append(data)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(self.API_PREFIX + "/chat/completions", self.chat),
            web.post(self.API_PREFIX + "/embeddings", self.embeddings),
            web.get(self.API_PREFIX + "/models", self.list_models),
        ]

    # --- what differs between OpenRouter and other OpenAI-compatible servers ---
    def thinking(self, body: dict[str, Any]) -> tuple[bool, bool]:
        """(asked to think, asked to hide it), from OpenRouter's `reasoning` object."""
        reasoning = body.get("reasoning")
        if not isinstance(reasoning, dict):
            return False, False
        off = reasoning.get("enabled") is False or reasoning.get("effort") == "none"
        return not off, bool(reasoning.get("exclude"))

    def refusal(self, body: dict[str, Any]) -> web.Response | None:
        """A 400 for a request this vendor refuses (None: it is fine)."""
        return None

    def choices_asked(self, body: dict[str, Any]) -> int:
        return int(body.get("n") or 1) if self.ANSWERS_N else 1

    def stream_usage(self, body: dict[str, Any]) -> bool:
        options = body.get("stream_options") or {}
        return self.USAGE_ALWAYS or bool(options.get("include_usage"))

    async def _authorize(self, request: web.Request) -> web.Response | None:
        key = self.bearer_key(request)
        if key is None:
            return web.json_response(error_body(401, "No auth credentials found"), status=401)
        if not self.accepts(key):
            return web.json_response(error_body(401, "User not found."), status=401)
        return None

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await self.record(request)
        refused = await self._authorize(request)
        if refused is not None:
            return refused
        failure = self.take_failure()
        if failure is not None:
            early = await self._fail_early(request, failure, False)
            if early is not None:
                return early
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        if not texts or not all(isinstance(t, str) for t in texts):
            return web.json_response(error_body(400, "input must be text"), status=400)
        size = int(body.get("dimensions") or EMBEDDING_SIZE)
        base64_wanted = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector: Any = embedding(text, size)
            if base64_wanted:
                vector = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(count_words(t) for t in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def list_models(self, request: web.Request) -> web.Response:
        await self.record(request)
        data = [
            {**m, "name": m["id"], "pricing": {"prompt": "0", "completion": "0"}}
            for m in self.models
        ]
        return web.json_response({"data": data})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await self.record(request)
        refused = await self._authorize(request) or self.refusal(body)
        if refused is not None:
            return refused
        failure = self.take_failure()
        if failure is not None and failure.kind not in {"cut_stream", "midstream_error"}:
            early = await self._fail_early(request, failure, bool(body.get("stream")))
            if early is not None:
                return early
            failure = None
        if body.get("stream") and self._replays:
            return await self._replay(request, self._replays.popleft())
        thinking, exclude = self.thinking(body)
        answers = [
            answer(body, self.script, thinking=thinking, exclude=exclude)
            for _ in range(self.choices_asked(body))
        ]
        completion_tokens = sum(a.completion_tokens for a in answers)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens(body.get("messages") or []),
            "completion_tokens": completion_tokens,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        reasoning_tokens = sum(a.reasoning_tokens for a in answers)
        if reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
        logprobs = bool(body.get("logprobs"))
        if body.get("stream"):
            return await self._stream(request, body, answers[0], usage, failure)
        return web.json_response(self._completion(body["model"], answers, usage, logprobs))

    async def _replay(self, request: web.Request, data: bytes) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(data)
        await response.write_eof()
        return response

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

    def _message(self, reply: Answer) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if not reply.calls:
            message["content"] = reply.text
        if reply.reasoning:
            message[self.REASONING_FIELD] = reply.reasoning
        if reply.calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in reply.calls
            ]
        return message

    def _completion(
        self, model: str, answers: list[Answer], usage: dict[str, Any], logprobs: bool
    ) -> dict[str, Any]:
        choices = []
        for index, reply in enumerate(answers):
            choice: dict[str, Any] = {
                "index": index,
                "finish_reason": reply.finish_reason,
                "native_finish_reason": reply.finish_reason,
                "message": self._message(reply),
            }
            if logprobs:
                choice["logprobs"] = {"content": [word_logprob(w) for w in word_pieces(reply.text)]}
            choices.append(choice)
        return {
            "id": self.ID_PREFIX + "-1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "provider": "FakeProvider",
            "choices": choices,
            "usage": usage,
        }

    def _chunk(self, model: str, **fields: Any) -> bytes:
        chunk = {
            "id": self.ID_PREFIX + "-1",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "provider": "FakeProvider",
            **fields,
        }
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    def _deltas(self, reply: Answer, logprobs: bool) -> list[dict[str, Any]]:
        """The answer's streamed pieces as (delta, logprobs) choices, in OpenAI's order:
        reasoning, text, then each call (its first delta with id, type and name)."""
        out: list[dict[str, Any]] = []
        for piece in word_pieces(reply.reasoning) if reply.reasoning else ():
            out.append({"delta": {"role": "assistant", "content": "", self.REASONING_FIELD: piece}})
        for piece in word_pieces(reply.text) if reply.text or not reply.calls else ():
            choice: dict[str, Any] = {"delta": {"role": "assistant", "content": piece}}
            if logprobs:
                choice["logprobs"] = {"content": [word_logprob(piece)]}
            out.append(choice)
        for index, call in enumerate(reply.calls):
            start = {"index": index, "id": call.id, "type": "function",
                     "function": {"name": call.name, "arguments": ""}}  # fmt: skip
            out.append({"delta": {"role": "assistant", "content": None, "tool_calls": [start]}})
            for fragment in fragments(call.arguments, ARGUMENT_PIECES):
                more = {"index": index, "function": {"arguments": fragment}}
                out.append({"delta": {"tool_calls": [more]}})
        return out

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        reply: Answer,
        usage: dict[str, Any],
        failure: Failure | None,
    ) -> web.StreamResponse:
        model = body["model"]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if self.KEEPALIVE_FIRST:
            await response.write(KEEPALIVE)
        pieces = self._deltas(reply, bool(body.get("logprobs")))
        stop_after = int(failure.opts.get("after", 2)) if failure else len(pieces)
        try:
            for piece in pieces[:stop_after]:
                choice = {"index": 0, **piece, "finish_reason": None, "native_finish_reason": None}
                await response.write(self._chunk(model, choices=[choice]))
                if self.keepalive_between_chunks:
                    await response.write(KEEPALIVE)
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
        except (ConnectionResetError, asyncio.CancelledError):
            self.aborted_streams += 1  # the client (simplechat) hung up mid-stream
            raise
        if failure is not None:
            return await self._end_stream_early(request, response, model, failure)
        finish = self._choice({"role": "assistant", "content": ""}, reply.finish_reason)
        await response.write(self._chunk(model, choices=[finish]))
        if self.stream_usage(body):
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


def fragments(text: str, n: int) -> list[str]:
    """`text` in about `n` pieces whose concatenation is the text."""
    size = max(1, -(-len(text) // n))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def word_logprob(piece: str) -> dict[str, Any]:
    token = piece or " "
    return {
        "token": token,
        "logprob": -0.25,
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": token, "logprob": -0.25, "bytes": list(token.encode())}],
    }
