"""A fake DashScope on 127.0.0.1 that speaks the native wire format of providers.md §3.

    async with FakeDashScope() as fake:
        provider = DashScopeProvider(session, api_key=TEST_API_KEY, base_url=fake.base_url)

Routes: `POST /api/v1/services/aigc/text-generation/generation` and
`POST /api/v1/services/embeddings/text-embedding/text-embedding`. The reply is JSON, or SSE
when the request has `X-DashScope-SSE: enable` (as the SDK sends for `stream=True`). SSE
events are `id:N` / `event:result` / `:HTTP_STATUS/200` / `data:{...}` with no `[DONE]`; each
carries only the new text when `parameters.incremental_output` is true, else the whole text
so far, plus running usage totals. `parameters.result_format == "text"` gives `output.text`.
Errors are `{"code", "message", "request_id"}` with the HTTP status. Requests land in
`fake.requests`.

The model behind it is `tests.fakes.answers` (`fake.script` steers it), in DashScope's
shape: `parameters.tools` calls come as `message.tool_calls` (OpenAI's shape, with `index`),
streamed as fragments whose later ones repeat `"id": ""` and `"type": "function"`, ending
with an empty `{"function": {}}` one, finish_reason "tool_calls"; `enable_thinking` gives
`message.reasoning_content` (and `usage.output_tokens_details.reasoning_tokens`). The
embedding route answers `output.embeddings` (`text_index`, `embedding`) and
`usage.total_tokens`, and refuses more than 10 texts, as DashScope does.
`fake.replay_next(data)` makes the next stream exactly those recorded bytes.

Scripted failures, consumed one per request: `fake.fail_next(kind, times=1, **opts)`:
- "status": status=int, code=str, message=str, retry_after=seconds (sent as `Retry-After`)
- "throttle": 429 Throttling.RateQuota (retry_after=... optional)
- "context_length": 400 InvalidParameter "Range of input length should be [1, 30720]"
- "malformed_json": 200 whose body (or first SSE data line) is not JSON
- "drop": close the socket before any reply
- "slow": delay=seconds before answering normally
- "cut_stream": after=N result events, then close without the final event (clean=True ends the
  body properly instead of breaking the connection)
- "midstream_error": after=N result events, then `event:error` with code=..., message=...
  (default DataInspectionFailed) and, if status=... is given, a `status:` line
"""

import asyncio
import json
from collections import deque
from typing import Any, ClassVar

from aiohttp import web

from tests.fakes.answers import Answer, Script, answer, embedding, prompt_tokens
from tests.fakes.openrouter import ARGUMENT_PIECES, fragments, word_logprob
from tests.fakes.upstream import (
    TEST_API_KEY,
    Failure,
    FakeUpstream,
    count_words,
    cut_connection,
    drop_connection,
    word_pieces,
)

GENERATION_PATH = "/services/aigc/text-generation/generation"
EMBEDDING_PATH = "/services/embeddings/text-embedding/text-embedding"
EMBEDDING_BATCH_LIMIT = 10
EMBEDDING_SIZE = 1024
REQUEST_ID = "fake-request-id"
CONTEXT_MESSAGE = "Range of input length should be [1, 30720]"
THROTTLE_MESSAGE = "Requests rate limit exceeded, please try again later."
STATUS_CODES = {
    400: ("InvalidParameter", "The request is invalid."),
    401: ("InvalidApiKey", "Invalid API-key provided."),
    403: ("AccessDenied", "Access denied."),
    429: ("Throttling.RateQuota", THROTTLE_MESSAGE),
    500: ("InternalError", "An internal error has occured, please try again later."),
    503: ("ModelUnavailable", "Model is unavailable, please try again later."),
}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": REQUEST_ID}


def sse_event(event_id: int, payload: dict[str, Any], event: str = "result") -> bytes:
    head = f"id:{event_id}\nevent:{event}\n:HTTP_STATUS/200\ndata:"
    return head.encode() + json.dumps(payload).encode() + b"\n\n"


class FakeDashScope(FakeUpstream):
    FAILURE_KINDS: ClassVar[frozenset[str]] = frozenset(
        {"status", "throttle", "context_length", "malformed_json", "drop", "slow"}
        | {"cut_stream", "midstream_error"}
    )

    def __init__(self, api_key: str = TEST_API_KEY, reply: str | None = None) -> None:
        super().__init__(api_key)
        self.script = Script(reply=reply)
        self._replays: deque[bytes] = deque()

    @property
    def reply(self) -> str | None:
        return self.script.reply

    @reply.setter
    def reply(self, value: str | None) -> None:
        self.script.reply = value

    def replay_next(self, data: bytes) -> None:
        """Make the next streamed generation exactly `data` (a recorded stream)."""
        self._replays.append(data)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(self.API_PREFIX + GENERATION_PATH, self.generation),
            web.post(self.API_PREFIX + EMBEDDING_PATH, self.embedding),
        ]

    async def embedding(self, request: web.Request) -> web.Response:
        body = await self.record(request)
        key = self.bearer_key(request)
        if not self.accepts(key):
            return web.json_response(error_body("InvalidApiKey", "Invalid API-key provided."),
                                     status=401)  # fmt: skip
        failure = self.take_failure()
        if failure is not None:
            early = await self._fail_early(request, failure, False)
            if early is not None:
                return early
        texts = (body.get("input") or {}).get("texts") or []
        if not texts or len(texts) > EMBEDDING_BATCH_LIMIT:
            message = (
                f"batch size is invalid, it should not be larger than {EMBEDDING_BATCH_LIMIT}."
            )
            return web.json_response(error_body("InvalidParameter", message), status=400)
        size = int((body.get("parameters") or {}).get("dimension") or EMBEDDING_SIZE)
        items = [{"text_index": i, "embedding": embedding(t, size)} for i, t in enumerate(texts)]
        tokens = sum(count_words(t) for t in texts)
        return web.json_response(
            {
                "output": {"embeddings": items},
                "usage": {"total_tokens": tokens},
                "request_id": REQUEST_ID,
            }
        )

    async def generation(self, request: web.Request) -> web.StreamResponse:
        body = await self.record(request)
        key = self.bearer_key(request)
        if not self.accepts(key):
            message = "Invalid API-key provided." if key else "No API-key provided."
            return web.json_response(error_body("InvalidApiKey", message), status=401)
        stream = request.headers.get("X-DashScope-SSE", "").lower() == "enable"
        failure = self.take_failure()
        if failure is not None and failure.kind not in {"cut_stream", "midstream_error"}:
            early = await self._fail_early(request, failure, stream)
            if early is not None:
                return early
            failure = None
        messages = body.get("input", {}).get("messages") or []
        parameters = body.get("parameters") or {}
        if stream and self._replays:
            return await self._replay(request, self._replays.popleft())
        asked = {"messages": messages, **parameters}
        thinking = bool(parameters.get("enable_thinking"))
        replies = [
            answer(asked, self.script, thinking=thinking, exclude=False)
            for _ in range(int(parameters.get("n") or 1))
        ]
        input_tokens = prompt_tokens(messages)
        if stream:
            return await self._stream(request, replies[0], input_tokens, parameters, failure)
        choices = [self._choice(r, r.finish_reason, i, parameters) for i, r in enumerate(replies)]
        output: dict[str, Any] = {"choices": choices}
        if parameters.get("result_format") == "text":
            output = {"text": replies[0].text, "finish_reason": replies[0].finish_reason}
        return web.json_response(self._result(output, input_tokens, replies))

    async def _replay(self, request: web.Request, data: bytes) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream;charset=UTF-8"})
        await response.prepare(request)
        await response.write(data)
        await response.write_eof()
        return response

    async def _fail_early(
        self, request: web.Request, failure: Failure, stream: bool
    ) -> web.StreamResponse | None:
        opts = failure.opts
        if failure.kind in {"status", "throttle"}:
            status = int(opts.get("status", 429 if failure.kind == "throttle" else 500))
            default_code, default_message = STATUS_CODES.get(status, ("Unknown", "Error"))
            body = error_body(opts.get("code", default_code), opts.get("message", default_message))
            headers = {}
            if opts.get("retry_after") is not None:
                headers["Retry-After"] = str(opts["retry_after"])
            return web.json_response(body, status=status, headers=headers)
        if failure.kind == "context_length":
            return web.json_response(error_body("InvalidParameter", CONTEXT_MESSAGE), status=400)
        if failure.kind == "malformed_json":
            if stream:
                return await self._malformed_stream(request)
            return web.Response(text='{"output": {"choices": [', content_type="application/json")
        if failure.kind == "drop":
            return await drop_connection(request)
        await asyncio.sleep(float(opts.get("delay", 5.0)))  # "slow"
        return None

    @staticmethod
    def _choice(
        reply: Answer, finish: str, index: int, parameters: dict[str, Any]
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if reply.calls:
            message["tool_calls"] = [
                {
                    "index": i,
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for i, c in enumerate(reply.calls)
            ]
        choice: dict[str, Any] = {"finish_reason": finish, "message": message}
        if index:
            choice["index"] = index
        if parameters.get("logprobs"):
            choice["logprobs"] = {"content": [word_logprob(w) for w in word_pieces(reply.text)]}
        return choice

    @staticmethod
    def _result(
        output: dict[str, Any], input_tokens: int, replies: list[Answer] | int
    ) -> dict[str, Any]:
        if isinstance(replies, int):
            output_tokens, reasoning = replies, 0
        else:
            output_tokens = sum(r.completion_tokens for r in replies)
            reasoning = sum(r.reasoning_tokens for r in replies)
        usage: dict[str, Any] = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        }
        if reasoning:
            usage["output_tokens_details"] = {"reasoning_tokens": reasoning}
        return {"output": output, "usage": usage, "request_id": REQUEST_ID}

    @staticmethod
    def _message_pieces(reply: Answer) -> list[dict[str, Any]]:
        """The incremental messages of a stream: reasoning, text, then each call's fragments
        (the first with its id and name; later ones `"id": ""`), then the empty closing one."""
        out: list[dict[str, Any]] = []
        for piece in word_pieces(reply.reasoning) if reply.reasoning else ():
            out.append({"role": "assistant", "content": "", "reasoning_content": piece})
        for piece in word_pieces(reply.text) if reply.text or not reply.calls else ():
            out.append({"role": "assistant", "content": piece})
        for index, call in enumerate(reply.calls):
            parts = fragments(call.arguments, ARGUMENT_PIECES)
            for n, part in enumerate(parts):
                function = {"name": call.name, "arguments": part} if n == 0 else {"arguments": part}
                fragment = {"index": index, "id": call.id if n == 0 else "", "type": "function",
                            "function": function}  # fmt: skip
                out.append({"role": "assistant", "content": "", "tool_calls": [fragment]})
        if reply.calls:
            closing = {"index": len(reply.calls) - 1, "id": "", "type": "function", "function": {}}
            out.append({"role": "assistant", "content": "", "tool_calls": [closing]})
        return out

    async def _stream(
        self,
        request: web.Request,
        reply: Answer,
        input_tokens: int,
        parameters: dict[str, Any],
        failure: Failure | None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream;charset=UTF-8"})
        await response.prepare(request)
        incremental = bool(parameters.get("incremental_output"))
        pieces = self._message_pieces(reply) if incremental else self._cumulative(reply.text)
        stop_after = int(failure.opts.get("after", 2)) if failure else len(pieces)
        sent = 0
        for index, message in enumerate(pieces[:stop_after], start=1):
            sent += count_words(str(message.get("content") or ""))
            sent += count_words(str(message.get("reasoning_content") or ""))
            last = index == len(pieces) and failure is None
            finish = reply.finish_reason if last else "null"
            if parameters.get("result_format") == "text":
                output: dict[str, Any] = {"text": message["content"], "finish_reason": finish}
            else:
                output = {"choices": [{"finish_reason": finish, "message": message}]}
            tokens = reply.completion_tokens if last else sent
            result = self._result(output, input_tokens, tokens)
            if last and reply.reasoning_tokens:
                result["usage"]["output_tokens_details"] = {
                    "reasoning_tokens": reply.reasoning_tokens
                }
            await response.write(sse_event(index, result))
        if failure is None:
            await response.write_eof()
            return response
        if failure.kind == "midstream_error":
            await self._write_error_event(response, stop_after + 1, failure.opts)
        elif not failure.opts.get("clean"):  # "cut_stream" through a broken connection
            return await cut_connection(response, request)
        await response.write_eof()
        return response

    @staticmethod
    async def _write_error_event(
        response: web.StreamResponse, event_id: int, opts: dict[str, Any]
    ) -> None:
        code = opts.get("code", "DataInspectionFailed")
        message = opts.get("message", "Output data may contain inappropriate content.")
        status_line = f"status:{opts['status']}\n" if opts.get("status") else ""
        head = f"id:{event_id}\nevent:error\n{status_line}:HTTP_STATUS/400\ndata:"
        await response.write(head.encode() + json.dumps(error_body(code, message)).encode())
        await response.write(b"\n\n")

    @staticmethod
    def _cumulative(text: str) -> list[dict[str, Any]]:
        """Without incremental_output: each event holds the whole text so far."""
        out, sent = [], ""
        for piece in word_pieces(text):
            sent += piece
            out.append({"role": "assistant", "content": sent})
        return out

    async def _malformed_stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream;charset=UTF-8"})
        await response.prepare(request)
        await response.write(b'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"output": [\n\n')
        await response.write_eof()
        return response
