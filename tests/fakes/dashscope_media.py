"""A fake DashScope for the media engines, on 127.0.0.1, speaking the SDK's real wire formats.

    async with FakeDashScopeMedia() as fake:
        DashScopeSpeech(api_key=TEST_API_KEY, websocket_url=fake.websocket_url, ...)
        DashScopeOcr(session, api_key=TEST_API_KEY, base_url=fake.base_url, ...)

Speech: a WebSocket at `/api-ws/v1/inference` (providers.md §4.2). A wrong or missing Bearer key
is refused at the handshake with 401. Then: the client's `run-task` text frame (kept in
`fake.tasks`) -> `task-started` -> the audio as binary frames (kept in `fake.audio`) -> the
client's `finish-task` -> one partial and one final `result-generated` event per sentence in
`fake.sentences` (times spread over the audio received) -> `task-finished`.

Pictures: `POST /api/v1/services/aigc/multimodal-generation/generation` (§4.1) answers
`fake.ocr_text` as the list-of-`{"text"}` content qwen-vl models give; requests land in
`fake.requests`. Errors: `{"code", "message", "request_id"}` with the HTTP status.

Scripted failures, one per request: `fake.fail_next(kind, **opts)`:
- "task_failed": the WebSocket answers run-task with `task-failed` (code=..., message=...)
- "status": the HTTP route answers status=..., code=..., message=...
"""

import json
from typing import Any, ClassVar

from aiohttp import WSMsgType, web

from tests.fakes.upstream import TEST_API_KEY, FakeUpstream

WEBSOCKET_PATH = "/api-ws/v1/inference"
MULTIMODAL_PATH = "/services/aigc/multimodal-generation/generation"
REQUEST_ID = "fake-request-id"
BYTES_PER_MS = 32  # 16 kHz, 16-bit mono


def event(task_id: str, name: str, payload: dict[str, Any] | None = None, **header: Any) -> str:
    return json.dumps(
        {
            "header": {"task_id": task_id, "event": name, "attributes": {}, **header},
            "payload": payload if payload is not None else {},
        }
    )


class FakeDashScopeMedia(FakeUpstream):
    FAILURE_KINDS: ClassVar[frozenset[str]] = frozenset({"task_failed", "status"})

    def __init__(self, api_key: str = TEST_API_KEY) -> None:
        super().__init__(api_key)
        self.sentences = ["Hello world.", "This is a test."]
        self.ocr_text = "CORNER CAFE\nTOTAL 10.50"
        self.tasks: list[dict[str, Any]] = []
        self.audio = b""
        self.handshake_headers: list[dict[str, str]] = []

    @property
    def websocket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{WEBSOCKET_PATH}"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(WEBSOCKET_PATH, self.recognition),
            web.post(self.API_PREFIX + MULTIMODAL_PATH, self.multimodal),
        ]

    async def recognition(self, request: web.Request) -> web.StreamResponse:
        self.handshake_headers.append(dict(request.headers))
        if not self.accepts(self.bearer_key(request)):
            return web.Response(status=401, text="Unauthorized")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        start = json.loads((await ws.receive()).data)
        self.tasks.append(start)
        task_id = start["header"]["task_id"]
        failure = self.take_failure()
        if failure is not None:
            await ws.send_str(
                event(
                    task_id,
                    "task-failed",
                    error_code=failure.opts.get("code", "InvalidParameter"),
                    error_message=failure.opts.get("message", "The audio format is wrong."),
                )
            )
            await ws.close()
            return ws
        await ws.send_str(event(task_id, "task-started"))
        audio = bytearray()
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                audio.extend(message.data)
            elif (
                message.type == WSMsgType.TEXT
                and json.loads(message.data)["header"]["action"] == "finish-task"
            ):
                break
        self.audio = bytes(audio)
        await self._send_results(ws, task_id, len(audio) // BYTES_PER_MS)
        await ws.send_str(event(task_id, "task-finished", {"output": {}, "usage": None}))
        await ws.close()
        return ws

    async def _send_results(self, ws: web.WebSocketResponse, task_id: str, total_ms: int) -> None:
        share = total_ms // max(1, len(self.sentences))
        for index, text in enumerate(self.sentences):
            begin, end = index * share, (index + 1) * share
            partial = {"begin_time": begin, "end_time": None, "text": text[: len(text) // 2]}
            final = {
                "begin_time": begin,
                "end_time": end,
                "text": text,
                "words": [],
                "sentence_end": True,
            }
            await ws.send_str(event(task_id, "result-generated", {"output": {"sentence": partial}}))
            await ws.send_str(
                event(
                    task_id,
                    "result-generated",
                    {"output": {"sentence": final}, "usage": {"duration": end // 1000}},
                )
            )

    async def multimodal(self, request: web.Request) -> web.Response:
        await self.record(request)
        if not self.accepts(self.bearer_key(request)):
            body = {
                "code": "InvalidApiKey",
                "message": "Invalid API-key provided.",
                "request_id": REQUEST_ID,
            }
            return web.json_response(body, status=401)
        failure = self.take_failure()
        if failure is not None:
            body = {
                "code": failure.opts.get("code", "InternalError"),
                "message": failure.opts.get("message", "An internal error has occured."),
                "request_id": REQUEST_ID,
            }
            return web.json_response(body, status=int(failure.opts.get("status", 500)))
        message = {"role": "assistant", "content": [{"text": self.ocr_text}]}
        return web.json_response(
            {
                "output": {"choices": [{"finish_reason": "stop", "message": message}]},
                "usage": {"input_tokens": 812, "output_tokens": 9, "image_tokens": 780},
                "request_id": REQUEST_ID,
            }
        )
