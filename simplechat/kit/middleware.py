"""ASGI middleware: the request body size limit (413) before anything parses the body."""

import asyncio
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simplechat.kit.errors import PayloadTooLarge
from simplechat.kit.http import render

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A refused body is read to its end (and dropped) before the 413 is sent: a client that writes
# its whole body before it reads (urllib, many SDKs, a browser on a slow link) would otherwise
# meet a closed connection mid-write, a reset or broken pipe, and never see "too large". The
# reading is bounded: beyond this much, or this long, the 413 goes out with Connection: close.
DRAIN_MAX_BYTES = 128 * 1024 * 1024
DRAIN_MAX_SECONDS = 30.0


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413, whether or not Content-Length is sent,
    in a way every client reads (see DRAIN_MAX_BYTES).

    `path_limits` gives some paths another limit (exact paths: the upload routes take files of
    up to 25 MB while every JSON route keeps the small default).
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"], self.max_bytes)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            # A client that waits for "100 Continue" has sent nothing yet: answer at once (it
            # then sends nothing). Any other is sending the body: read it first.
            waiting = headers.get(b"expect", b"").lower() == b"100-continue"
            drained = not waiting and int(declared) <= DRAIN_MAX_BYTES and await _drain(receive)
            await self._refuse(scope, send, limit, close=not drained)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > limit:
                drained = not more or await _drain(receive, size)
                await self._refuse(scope, send, limit, close=not drained)
                return
            chunks.append(chunk)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send, limit: int, *, close: bool) -> None:
        error = PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        body = render(error, path=scope["path"], status=error.status_code)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if close:  # the rest of the body is still coming: this connection cannot be reused
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive, already: int = 0) -> bool:
    """Read the rest of the request body and drop it; True when all of it was read (within
    DRAIN_MAX_BYTES and DRAIN_MAX_SECONDS), False otherwise or when the client left."""
    read = already
    try:
        async with asyncio.timeout(DRAIN_MAX_SECONDS):
            while read <= DRAIN_MAX_BYTES:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return False
                read += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return True
    except TimeoutError:
        return False
    return False
