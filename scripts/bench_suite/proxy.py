"""The floor for this stack: a minimal pass-through proxy, FastAPI + one HTTP client, no auth,
no storage. `python -m bench_suite.proxy --port N --upstream URL --client aiohttp|httpx`.

`POST /v1/chat/completions` sends the request body as it came to `{upstream}/chat/completions`
and returns the upstream's answer; a body asking for `"stream": true` is relayed as a stream,
chunk by chunk. It runs under uvicorn exactly as `simplechat serve` does (one worker, uvloop,
httptools), so the difference to simplechat is simplechat's own work.
"""

import argparse
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

POOL_SIZE = 100


def create_app(upstream: str, client: str) -> FastAPI:
    url = upstream.rstrip("/") + "/chat/completions"
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if client == "aiohttp":
            connector = aiohttp.TCPConnector(limit=POOL_SIZE, limit_per_host=POOL_SIZE)
            async with aiohttp.ClientSession(connector=connector) as session:
                state["session"] = session
                yield
        else:
            limits = httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
            async with httpx.AsyncClient(limits=limits, timeout=30) as http:
                state["http"] = http
                yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/chat/completions")
    async def relay(request: Request) -> Response:
        body = await request.body()
        stream = bool(json.loads(body).get("stream"))
        headers = {"content-type": "application/json"}
        if client == "aiohttp":
            return await _relay_aiohttp(state["session"], url, body, headers, stream)
        return await _relay_httpx(state["http"], url, body, headers, stream)

    return app


async def _relay_aiohttp(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], stream: bool
) -> Response:
    if not stream:
        async with session.post(url, data=body, headers=headers) as upstream:
            content = await upstream.read()
            return Response(content, upstream.status, media_type=upstream.content_type)
    upstream = await session.post(url, data=body, headers=headers)

    async def chunks() -> AsyncIterator[bytes]:
        async with upstream:
            async for data in upstream.content.iter_any():
                yield data

    return StreamingResponse(chunks(), upstream.status, media_type="text/event-stream")


async def _relay_httpx(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], stream: bool
) -> Response:
    if not stream:
        upstream = await http.post(url, content=body, headers=headers)
        media_type = upstream.headers.get("content-type")
        return Response(upstream.content, upstream.status_code, media_type=media_type)
    request = http.build_request("POST", url, content=body, headers=headers)
    response = await http.send(request, stream=True)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for data in response.aiter_raw():
                yield data
        finally:
            await response.aclose()

    return StreamingResponse(chunks(), response.status_code, media_type="text/event-stream")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:9000/v1")
    parser.add_argument("--client", choices=["aiohttp", "httpx"], default="aiohttp")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.upstream, args.client),
        host="127.0.0.1",
        port=args.port,
        log_level=args.log_level,
    )


if __name__ == "__main__":
    main()
