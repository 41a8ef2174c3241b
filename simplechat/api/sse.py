"""Server-sent events: simplechat's own stream format and OpenAI's chunk format."""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

from simplechat.api.context import AppContext
from simplechat.api.errors import error_body
from simplechat.api.schemas import UsagePublic
from simplechat.domain.messages import Usage
from simplechat.services.chat import Turn
from simplechat.services.streaming import ChatStream, Delta, Failed, Finished, KeepAlive

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"


def _data(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


def usage_dict(usage: Usage) -> dict[str, Any]:
    public = UsagePublic.from_domain(usage)
    return public.model_dump() if public else {}


async def open_stream(context: AppContext, turn: Turn) -> ChatStream:
    """Start answering `turn` as a stream, with the server's keep-alive settings."""
    return await ChatStream.open(
        context.chat,
        turn,
        first_chunk_wait=context.settings.stream_first_chunk_wait_seconds,
        keepalive_seconds=context.settings.stream_keepalive_seconds,
    )


def sse_response(events: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


async def simple_events(stream: ChatStream) -> AsyncIterator[bytes]:
    """`data: {"content", "finish_reason"}` events, a last one with usage, then [DONE].
    A failure mid-stream is an `event: error` with the error body, then [DONE]."""
    async for event in stream.events():
        match event:
            case KeepAlive():
                yield KEEPALIVE
            case Delta(text=text):
                yield _data({"content": text, "finish_reason": None})
            case Finished(finish_reason=reason, usage=usage, estimated=estimated):
                yield _data(
                    {
                        "content": "",
                        "finish_reason": reason,
                        "usage": usage_dict(usage),
                        "usage_estimated": estimated,
                        "model": stream.turn.model.name,
                        "truncated": stream.turn.prompt.truncated,
                        "mock": stream.turn.mock,
                    }
                )
            case Failed(error=error):
                body = error_body(type(error).__name__, error.error_code, error.message)
                yield b"event: error\n" + _data({**body, "finish_reason": "error"})
    yield DONE


async def openai_events(
    stream: ChatStream, *, completion_id: str, include_usage: bool
) -> AsyncIterator[bytes]:
    """OpenAI `chat.completion.chunk` events, an optional usage chunk, then [DONE]."""
    created = int(time.time())
    model = stream.turn.model.name

    def chunk(delta: dict[str, Any], finish_reason: str | None) -> bytes:
        return _data(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
        )

    yield chunk({"role": "assistant", "content": ""}, None)
    async for event in stream.events():
        match event:
            case KeepAlive():
                yield KEEPALIVE
            case Delta(text=text):
                yield chunk({"content": text}, None)
            case Finished(finish_reason=reason, usage=usage):
                yield chunk({}, reason)
                if include_usage:
                    yield _data(
                        {
                            "id": completion_id,
                            "object": "chat.completion.chunk",
                            "created": created,
                            "model": model,
                            "choices": [],
                            "usage": usage_dict(usage),
                        }
                    )
            case Failed(error=error):
                yield _data(
                    {
                        "error": {
                            "message": error.message,
                            "type": "api_error",
                            "code": error.error_code,
                            "param": None,
                        }
                    }
                )
    yield DONE
