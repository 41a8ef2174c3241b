"""The one error renderer: our shape, OpenAI's under /v1, and statuses the app overrides."""

import httpx
import pytest
from fastapi import FastAPI

from simplechat.kit.errors import NotFound, RateLimited
from simplechat.kit.http import add_error_handlers


def app_raising(error: Exception, **overrides: int) -> FastAPI:
    app = FastAPI()
    add_error_handlers(app, status_overrides=overrides)

    @app.get("/x")
    @app.get("/v1/x")
    async def fail() -> None:
        raise error

    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


def limit(code: str) -> RateLimited:
    return RateLimited("Slow down.", limit_code=code, retry_after=7, extra={"limit": 3})


@pytest.mark.parametrize(("code", "status"), [("daily_limit", 401), ("ip_limit", 429)])
async def test_an_overridden_code_takes_its_status(code: str, status: int) -> None:
    response = await get(app_raising(limit(code), daily_limit=401), "/x")

    assert response.status_code == status
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {
        "error": "RateLimited",
        "code": code,
        "detail": "Slow down.",
        "limit": 3,
        "retry_after": 7,
    }


async def test_openai_shape_under_v1() -> None:
    response = await get(app_raising(NotFound("No such thing.")), "/v1/x")

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "No such thing.",
            "type": "not_found_error",
            "code": "not_found",
            "param": None,
        }
    }


async def test_an_unexpected_error_is_a_plain_500() -> None:
    response = await get(app_raising(RuntimeError("secret detail")), "/x")

    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert "secret detail" not in response.text
