"""A fake DashScope on 127.0.0.1 that speaks the native wire format of providers.md §3.

    async with FakeDashScope() as fake:
        provider = DashScopeProvider(session, api_key=TEST_API_KEY, base_url=fake.base_url)

Route: `POST /api/v1/services/aigc/text-generation/generation`. The reply is JSON, or SSE when the
request has `X-DashScope-SSE: enable` (as the SDK sends for `stream=True`). SSE events are
`id:N` / `event:result` / `:HTTP_STATUS/200` / `data:{...}` with no `[DONE]`; each carries only
the new text when `parameters.incremental_output` is true, else the whole text so far, plus
running usage totals. `parameters.result_format == "text"` gives `output.text`.
Errors are `{"code", "message", "request_id"}` with the HTTP status. Requests land in
`fake.requests`.

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

GENERATION_PATH = "/services/aigc/text-generation/generation"
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
        self.reply = reply  # None: greet by name (see default_reply)

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self.API_PREFIX + GENERATION_PATH, self.generation)]

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
        text = self.reply if self.reply is not None else default_reply(messages)
        input_tokens = sum(count_words(str(m.get("content", ""))) for m in messages)
        if stream:
            return await self._stream(request, text, input_tokens, parameters, failure)
        output = self._output(text, "stop", parameters)
        return web.json_response(self._result(output, input_tokens, count_words(text)))

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
    def _output(text: str, finish: str, parameters: dict[str, Any]) -> dict[str, Any]:
        if parameters.get("result_format") == "text":
            return {"text": text, "finish_reason": finish}
        message = {"role": "assistant", "content": text}
        return {"choices": [{"finish_reason": finish, "message": message}]}

    @staticmethod
    def _result(output: dict[str, Any], input_tokens: int, output_tokens: int) -> dict[str, Any]:
        usage = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        }
        return {"output": output, "usage": usage, "request_id": REQUEST_ID}

    async def _stream(
        self,
        request: web.Request,
        text: str,
        input_tokens: int,
        parameters: dict[str, Any],
        failure: Failure | None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream;charset=UTF-8"})
        await response.prepare(request)
        pieces = word_pieces(text)
        incremental = bool(parameters.get("incremental_output"))
        stop_after = int(failure.opts.get("after", 2)) if failure else len(pieces)
        sent = ""
        for index, piece in enumerate(pieces[:stop_after], start=1):
            sent += piece
            finish = "stop" if index == len(pieces) and failure is None else "null"
            output = self._output(piece if incremental else sent, finish, parameters)
            result = self._result(output, input_tokens, count_words(sent))
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

    async def _malformed_stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream;charset=UTF-8"})
        await response.prepare(request)
        await response.write(b'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"output": [\n\n')
        await response.write_eof()
        return response
