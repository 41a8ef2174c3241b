"""Server-sent events framing: data events, comments as keep-alives, and the response."""

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from fastapi.responses import StreamingResponse

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"


def data(
    payload: Mapping[str, Any], *, event: str | None = None, event_id: int | None = None
) -> bytes:
    """One event whose data is `payload` as JSON (named `event`, with the id `event_id`,
    when given: a client sends the last id it saw back as Last-Event-ID)."""
    head = f"event: {event}\n" if event else ""
    if event_id is not None:
        head += f"id: {event_id}\n"
    return f"{head}data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


def done(event_id: int) -> bytes:
    """The end of a stream ([DONE]) with an id."""
    return f"id: {event_id}\ndata: [DONE]\n\n".encode()


def sse_response(events: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
