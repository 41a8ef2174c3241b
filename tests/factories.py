"""Helpers the tests share: settings, the app behind an ASGI client, accounts, free ports.

Plain functions and classes, imported where used (fixtures stay in the conftest files).
"""

import socket
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp, Receive, Scope, Send

from simplechat.app import create_app
from simplechat.config import Settings

SEED = "hi, my name is Eric"
TEST_JWT_SECRET = "test-secret-" + "x" * 40


def make_settings(
    mongo_uri: str | None, database_name: str, data_dir: Path, **overrides: Any
) -> Settings:
    """Settings from code only; `mongo_uri` None: the app starts its own embedded database."""
    values: dict[str, Any] = {
        "mongodb_uri": mongo_uri,
        "mongodb_db": database_name,
        "data_dir": data_dir,
        "jwt_secret": TEST_JWT_SECRET,
        "openrouter_api_key": None,
        "dashscope_api_key": None,
        "openai_base_url": None,
        "models_file": None,
        "ip_limit": "1000/minute",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def upstream_settings(base: Settings, **overrides: Any) -> Settings:
    """`base` with quick retries and short timeouts, for tests against a fake upstream."""
    values = base.model_dump()
    values.update(upstream_backoff_seconds=0.01, upstream_max_retries=2, read_timeout_seconds=2.0)
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class RecordedSleeps:
    """A `sleep` for RetryPolicy that records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _per_request_state(app: ASGIApp) -> ASGIApp:
    """Give each request a shallow copy of the lifespan state, as uvicorn does (asgi-lifespan
    hands every request the same dict, so per-request marks would leak between requests)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "state" in scope:
            scope = {**scope, "state": dict(scope["state"])}
        await app(scope, receive, send)

    return wrapped


class app_client:
    """The app, started with its lifespan, behind an httpx client (ASGI transport)."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self._manager = LifespanManager(_per_request_state(self.app), startup_timeout=30)

    async def __aenter__(self) -> httpx.AsyncClient:
        manager = await self._manager.__aenter__()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(manager.app), base_url="http://testserver"
        )
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._manager.__aexit__(*exc)


async def sign_up(
    client: httpx.AsyncClient, username: str, password: str = "password123"
) -> dict[str, str]:
    """Create a user, log in, and return the Authorization header."""
    response = await client.post("/user/", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    response = await client.post("/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
