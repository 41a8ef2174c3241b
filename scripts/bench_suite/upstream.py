"""A fast fake OpenAI-compatible upstream: `python -m bench_suite.upstream --port N`.

`POST /v1/chat/completions` answers at once with a fixed completion: JSON, or Server-Sent
Events when the body asks for `"stream": true`: one event per word (`--stream-words`, default
the 7-word reply), the first written immediately and each next one `--chunk-gap-ms` later (so a
gateway that buffered the stream would show in its time to first byte), then after one more gap
the finish, usage and [DONE] events together. 50 words 100 ms apart make a 5-second answer.
`GET /stats` tells how many streams were open at most at once since the last `GET /stats`.
Written on asyncio + httptools (and uvloop) with HTTP/1.1 keep-alive, so it costs far less CPU
per request than any of the targets it stands behind.
"""

import argparse
import asyncio
import contextlib
import json
import resource
import time
from dataclasses import dataclass
from typing import Any, cast

import httptools
import uvloop

REPLY_WORDS = ["Hello!", " How", " can", " I", " help", " you", " today?"]
REPLY = "".join(REPLY_WORDS)
COMPLETION_PATH = b"/v1/chat/completions"
STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)


def completion_body(model: str, prompt_tokens: int) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": REPLY},
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(REPLY_WORDS),
                "total_tokens": prompt_tokens + len(REPLY_WORDS),
            },
        }
    ).encode()


@dataclass
class StreamStats:
    open: int = 0
    peak: int = 0
    started: int = 0

    def report(self) -> bytes:
        body = {"open_streams": self.open, "peak_streams": self.peak, "streams": self.started}
        self.peak = self.open
        return json.dumps(body).encode()


def sse_events(model: str, prompt_tokens: int, words: int = len(REPLY_WORDS)) -> list[bytes]:
    """The stream: one event per word, a finish event, a usage event, then [DONE]."""

    def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": model}
        return b"data: " + json.dumps({**chunk, "choices": choices, **extra}).encode() + b"\n\n"

    cycle = REPLY_WORDS * (words // len(REPLY_WORDS) + 1)
    events = [
        event([{"index": 0, "delta": {"content": word}, "finish_reason": None}])
        for word in cycle[:words]
    ]
    events.append(event([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": words}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    events.append(event([], usage=usage))
    events.append(b"data: [DONE]\n\n")
    return events


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; requests on it are answered in order."""

    def __init__(self, chunk_gap: float, words: int, stats: StreamStats) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []
        self._chunk_gap = chunk_gap
        self._words = words
        self._stats = stats
        self._streaming: asyncio.Task[None] | None = None

    # --- asyncio.Protocol ---
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._reply(400, b"application/json", b'{"error": {"message": "bad request"}}')
            self._close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._streaming is not None:
            self._streaming.cancel()
        self._transport = None

    # --- httptools callbacks ---
    def on_message_begin(self) -> None:
        self._url = b""
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._url == b"/stats":
            self._reply(200, b"application/json", self._stats.report())
            return
        if self._parser.get_method() != b"POST" or self._url.split(b"?")[0] != COMPLETION_PATH:
            self._reply(404, b"application/json", b'{"error": {"message": "not found"}}')
            return
        try:
            request = json.loads(b"".join(self._body))
        except ValueError:
            self._reply(400, b"application/json", b'{"error": {"message": "not JSON"}}')
            return
        model = str(request.get("model", "bench"))
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in request["messages"])
        if request.get("stream"):
            self._streaming = asyncio.ensure_future(self._stream(model, prompt_tokens))
        else:
            self._reply(200, b"application/json", completion_body(model, prompt_tokens))

    # --- replies ---
    def _reply(self, status: int, content_type: bytes, body: bytes) -> None:
        if self._transport is None:
            return
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n".encode()
            + b"content-type: "
            + content_type
            + f"\r\ncontent-length: {len(body)}\r\n\r\n".encode()
        )
        self._transport.write(head + body)

    async def _stream(self, model: str, prompt_tokens: int) -> None:
        transport = self._transport
        if transport is None:
            return
        stats = self._stats
        stats.open += 1
        stats.started += 1
        stats.peak = max(stats.peak, stats.open)
        try:
            events = sse_events(model, prompt_tokens, self._words)
            *deltas, finish, usage, done = events
            transport.write(STREAM_HEAD + chunk(deltas[0]))
            for event in [*deltas[1:], finish + usage + done]:
                if self._chunk_gap:
                    await asyncio.sleep(self._chunk_gap)
                if transport.is_closing():
                    return
                transport.write(chunk(event))
            transport.write(b"0\r\n\r\n")
        finally:
            stats.open -= 1

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def serve(host: str, port: int, chunk_gap: float, words: int) -> None:
    loop = asyncio.get_running_loop()
    stats = StreamStats()
    server = await loop.create_server(
        lambda: UpstreamProtocol(chunk_gap, words, stats), host, port, backlog=4096
    )
    async with server:
        await server.serve_forever()


def raise_open_file_limit() -> None:
    """Every open stream is a socket: take the hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):  # unlimited, or a sandbox that refuses
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunk-gap-ms", type=float, default=5.0)
    parser.add_argument("--stream-words", type=int, default=len(REPLY_WORDS))
    args = parser.parse_args()
    raise_open_file_limit()
    uvloop.run(serve(args.host, args.port, args.chunk_gap_ms / 1000, args.stream_words))


if __name__ == "__main__":
    main()
