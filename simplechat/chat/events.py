"""A chat stream as server-sent events: simplechat's own format and OpenAI's chunk format."""

import time
from collections.abc import AsyncIterator
from typing import Any

from simplechat.chat.schemas import UsagePublic
from simplechat.chat.streaming import ChatStream, Delta, Failed, Finished, KeepAlive
from simplechat.kit.errors import SimpleChatError
from simplechat.kit.http import error_body, openai_error_body
from simplechat.kit.sse import DONE, KEEPALIVE, data
from simplechat.llm.types import Usage


def usage_dict(usage: Usage) -> dict[str, Any]:
    public = UsagePublic.from_domain(usage)
    return public.model_dump() if public else {}


def finish_data(stream: ChatStream, event: Finished) -> dict[str, Any]:
    """The last event of simplechat's stream format: why it finished, usage, model."""
    return {
        "content": "",
        "finish_reason": event.finish_reason,
        "usage": usage_dict(event.usage),
        "usage_estimated": event.estimated,
        "model": stream.model_name,
        "truncated": stream.truncated,
        "mock": stream.mock,
    }


def error_data(error: SimpleChatError) -> dict[str, Any]:
    """The data of an `event: error`: the error body, finish_reason "error"."""
    return {**error_body(error), "finish_reason": "error"}


async def simple_events(stream: ChatStream) -> AsyncIterator[bytes]:
    """`data: {"content", "finish_reason"}` events, a last one with usage, then [DONE].
    A failure mid-stream is an `event: error` with the error body, then [DONE]."""
    async for event in stream.events():
        match event:
            case KeepAlive():
                yield KEEPALIVE
            case Delta(text=text):
                yield data({"content": text, "finish_reason": None})
            case Finished():
                yield data(finish_data(stream, event))
            case Failed(error=error):
                yield data(error_data(error), event="error")
    yield DONE


async def openai_events(
    stream: ChatStream, *, completion_id: str, include_usage: bool
) -> AsyncIterator[bytes]:
    """OpenAI `chat.completion.chunk` events, an optional usage chunk, then [DONE]."""
    created = int(time.time())
    model = stream.model_name

    def chunk(choices: list[dict[str, Any]], **more: Any) -> bytes:
        return data(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
                **more,
            }
        )

    def delta(content: dict[str, Any], finish_reason: str | None) -> bytes:
        return chunk([{"index": 0, "delta": content, "finish_reason": finish_reason}])

    yield delta({"role": "assistant", "content": ""}, None)
    async for event in stream.events():
        match event:
            case KeepAlive():
                yield KEEPALIVE
            case Delta(text=text):
                yield delta({"content": text}, None)
            case Finished(finish_reason=reason, usage=usage):
                yield delta({}, reason)
                if include_usage:
                    yield chunk([], usage=usage_dict(usage))
            case Failed(error=error):
                yield data(openai_error_body(error))
    yield DONE
