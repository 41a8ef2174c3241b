"""The shared core of the fake upstreams: an aiohttp.web server on 127.0.0.1, a request log and
a queue of scripted failures.

Each fake subclass lists its routes and the failure kinds it understands. Use it as an async
context manager:

    async with FakeOpenRouter() as fake:
        fake.fail_next("status", status=429, retry_after=0)
        ...  # point a provider at fake.base_url
"""

import asyncio
import json
import re
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Self

from aiohttp import web

DEFAULT_REPLY = "Hello! How can I help you today?"
TEST_API_KEY = "sk-test-secret-key-0123456789"
NAME_PATTERN = re.compile(r"my name is (\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class RecordedRequest:
    """What the fake received: method, path, headers (case-insensitive lookup) and JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass(frozen=True)
class Failure:
    kind: str
    opts: dict[str, Any] = field(default_factory=dict)


class FakeUpstream:
    """Base class: subclasses set FAILURE_KINDS and API_PREFIX and implement `routes()`."""

    FAILURE_KINDS: ClassVar[frozenset[str]] = frozenset()
    API_PREFIX: ClassVar[str] = "/api/v1"

    def __init__(self, api_key: str = TEST_API_KEY) -> None:
        self.api_key = api_key
        self.user_keys: set[str] = set()  # more keys accepted (users' own: bring your own key)
        self.requests: list[RecordedRequest] = []
        self._failures: deque[Failure] = deque()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def accepts(self, key: str | None) -> bool:
        return key is not None and (key == self.api_key or key in self.user_keys)

    # --- scripting ---
    def fail_next(self, kind: str, times: int = 1, **opts: Any) -> None:
        """Make the next `times` generation requests fail as `kind` (see the subclass docstring)."""
        if kind not in self.FAILURE_KINDS:
            raise ValueError(
                f"unknown failure kind {kind!r}; pick one of {sorted(self.FAILURE_KINDS)}"
            )
        self._failures.extend(Failure(kind, opts) for _ in range(times))

    def take_failure(self) -> Failure | None:
        return self._failures.popleft() if self._failures else None

    @property
    def pending_failures(self) -> int:
        return len(self._failures)

    # --- lifecycle ---
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + self.API_PREFIX

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self) -> Self:
        app = web.Application()
        app.add_routes(self.routes())
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- helpers for handlers ---
    async def record(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.headers), body)
        )
        return body

    def bearer_key(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None


async def drop_connection(request: web.Request) -> web.StreamResponse:
    """Close the socket without sending a status line (a connection drop before the reply)."""
    assert request.transport is not None
    request.transport.close()
    await asyncio.sleep(0)
    raise asyncio.CancelledError  # aiohttp then ends the handler without writing anything


async def cut_connection(response: web.StreamResponse, request: web.Request) -> web.StreamResponse:
    """End a streamed reply abruptly: the chunked body never gets its terminator.

    It first gives the client a moment to read what was sent: aiohttp drops received but
    unread data once the connection breaks, which would make the partial answer a race."""
    assert request.transport is not None
    await asyncio.sleep(0.1)
    request.transport.close()
    await asyncio.sleep(0)
    return response


def word_pieces(text: str) -> list[str]:
    """Split text into word-sized pieces whose concatenation is the text."""
    pieces: list[str] = []
    for word in text.split(" "):
        pieces.append(word if not pieces else " " + word)
    return pieces or [""]


def count_words(text: str) -> int:
    return len(text.split())


def default_reply(messages: list[dict[str, Any]]) -> str:
    """The canned answer: greet the user by name if the last user message gives one."""
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    match = NAME_PATTERN.search(str(last_user.get("content", ""))) if last_user else None
    return f"Hello {match.group(1)}! How can I help you today?" if match else DEFAULT_REPLY
