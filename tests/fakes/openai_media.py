"""A fake OpenAI-compatible server for the media engines, on 127.0.0.1.

    async with FakeOpenAIMedia() as fake:
        engine = OpenAISpeech(session, base_url=fake.base_url, api_key=TEST_API_KEY, ...)

Routes (under /v1, like api.openai.com/v1):
- `POST /v1/audio/transcriptions`: multipart `file`, `model`, `response_format`, `language`,
  `prompt`; answers `{"text": fake.transcript}` (json) or the bare text (text). The fields and
  the file's bytes are kept in `fake.uploads`.
- `POST /v1/chat/completions`: a vision request (a user message whose content parts hold the
  instruction and an `image_url`); answers a chat completion whose content is `fake.ocr_text`.
  Requests land in `fake.requests`.

Errors are OpenAI's `{"error": {"message", "type", "code"}}`. Scripted failures (consumed one per
request): `fake.fail_next("status", status=500, message=..., retry_after=...)`.
"""

from typing import Any, ClassVar

from aiohttp import web

from tests.fakes.upstream import TEST_API_KEY, FakeUpstream


def openai_error(status: int, message: str) -> web.Response:
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": kind, "code": None, "param": None}}
    return web.json_response(body, status=status)


class FakeOpenAIMedia(FakeUpstream):
    FAILURE_KINDS: ClassVar[frozenset[str]] = frozenset({"status"})
    API_PREFIX: ClassVar[str] = "/v1"

    def __init__(self, api_key: str = TEST_API_KEY) -> None:
        super().__init__(api_key)
        self.transcript = "hello from the fake whisper"
        self.ocr_text = "CORNER CAFE\nTOTAL 10.50"
        self.uploads: list[dict[str, Any]] = []

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(self.API_PREFIX + "/audio/transcriptions", self.transcriptions),
            web.post(self.API_PREFIX + "/chat/completions", self.chat),
        ]

    def _refusal(self, request: web.Request) -> web.Response | None:
        if not self.accepts(self.bearer_key(request)):
            return openai_error(401, "Incorrect API key provided.")
        failure = self.take_failure()
        if failure is None:
            return None
        headers = {}
        if failure.opts.get("retry_after") is not None:
            headers["Retry-After"] = str(failure.opts["retry_after"])
        response = openai_error(
            int(failure.opts.get("status", 500)),
            str(failure.opts.get("message", "The server had an error.")),
        )
        response.headers.update(headers)
        return response

    async def transcriptions(self, request: web.Request) -> web.Response:
        form = await request.post()
        fields: dict[str, Any] = {}
        for name, value in form.items():
            if isinstance(value, web.FileField):
                fields[name] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "data": value.file.read(),
                }
            else:
                fields[name] = value
        self.uploads.append({"headers": dict(request.headers), **fields})
        refused = self._refusal(request)
        if refused is not None:
            return refused
        if fields.get("response_format") == "text":
            return web.Response(text=self.transcript + "\n")
        return web.json_response({"text": self.transcript})

    async def chat(self, request: web.Request) -> web.Response:
        await self.record(request)
        refused = self._refusal(request)
        if refused is not None:
            return refused
        message = {"role": "assistant", "content": self.ocr_text}
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_800_000_000,
            "model": "fake-vision",
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": {"prompt_tokens": 800, "completion_tokens": 9, "total_tokens": 809},
        }
        return web.json_response(body)
