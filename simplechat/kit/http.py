"""The one renderer of error bodies, in simplechat's shape or OpenAI's, and the error model
the API docs show.

Ours: `{"error": <ClassName>, "code": <code>, "detail": <message>, ...extra, "request_id"}`.
Under /v1/ (the OpenAI-compatible API) the same errors take OpenAI's shape,
`{"error": {"message", "type", "code", "param", "request_id"}}`, so OpenAI clients show them.
Everything that answers an error (the handlers below, the body-size middleware, the per-IP
limit, the event streams) builds a `SimpleChatError` and renders it here.
"""

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from simplechat.kit.db import DATABASE_ERRORS
from simplechat.kit.errors import (
    BadRequest,
    Conflict,
    ContextTooLong,
    DatabaseUnavailable,
    Forbidden,
    InternalError,
    InvalidInput,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SimpleChatError,
    UnsupportedMediaType,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from simplechat.kit.logs import redact
from simplechat.kit.telemetry import current_request_id

log = logging.getLogger("simplechat.api")

OPENAI_PREFIX = "/v1/"
FASTAPI_BODY_ERROR = "There was an error parsing the body"
INVALID_JSON = "The request body is not valid JSON."
_HTTP_ERRORS: dict[int, type[SimpleChatError]] = {
    400: BadRequest,
    401: NotAuthenticated,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


# --- rendering ---
def error_body(error: SimpleChatError) -> dict[str, Any]:
    """simplechat's error shape, with this request's id."""
    request_id = {"request_id": rid} if (rid := current_request_id()) else {}
    return {
        "error": error.name,
        "code": error.error_code,
        "detail": error.message,
        **error.extra,
        **request_id,
    }


def _openai_type(status: int, code: str) -> str:
    if status == 402:
        return "insufficient_quota"
    if code.endswith("_limit") or status == 429:
        return "rate_limit_error"
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 404:
        return "not_found_error"
    if status >= 500:
        return "api_error"
    return "invalid_request_error"


def openai_error_body(error: SimpleChatError, status: int | None = None) -> dict[str, Any]:
    """OpenAI's error shape."""
    rid = current_request_id()
    code = error.error_code
    return {
        "error": {
            "message": error.message,
            "type": _openai_type(status or error.status_code, code),
            "code": code,
            "param": error.extra.get("param"),
            **({"request_id": rid} if rid else {}),
        }
    }


def is_openai_path(path: str) -> bool:
    return path.startswith(OPENAI_PREFIX)


def render(error: SimpleChatError, *, path: str, status: int) -> bytes:
    """The JSON bytes of `error` for a request to `path` (for code outside a route)."""
    body = openai_error_body(error, status) if is_openai_path(path) else error_body(error)
    return json.dumps(body).encode()


def status_of(request: Request, error: SimpleChatError) -> int:
    """The error's status, unless the app answers its code with another (the per-user
    message limits answer 401 by default, as the product's spec has it)."""
    overrides: Mapping[str, int] = getattr(request.app.state, "error_status_overrides", {})
    return overrides.get(error.error_code, error.status_code)


def error_response(request: Request, error: SimpleChatError) -> JSONResponse:
    status = status_of(request, error)
    path = request.url.path
    body = openai_error_body(error, status) if is_openai_path(path) else error_body(error)
    return JSONResponse(body, status_code=status, headers=error.headers or None)


# --- the handlers ---
def _describe(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    where = ".".join(loc)
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))


def invalid_input(errors: Sequence[Any]) -> InvalidInput:
    """A 422 from pydantic's validation errors, each problem listed."""
    detail = "; ".join(_describe(e) for e in errors) or "The request is not valid."
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = INVALID_JSON
    problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors]
    return InvalidInput(detail, extra={"problems": problems})


async def _on_simplechat_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SimpleChatError)
    return error_response(request, exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(request, invalid_input(list(exc.errors())))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == FASTAPI_BODY_ERROR:
        # A body FastAPI cannot even decode (not UTF-8, say) is invalid JSON like any other:
        # the same documented 422 instead of an undocumented 400.
        unreadable = {"loc": ("body",), "msg": INVALID_JSON, "type": "json_invalid"}
        return error_response(request, invalid_input([unreadable]))
    detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No such endpoint: {request.method} {request.url.path}"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    kind = _HTTP_ERRORS.get(exc.status_code)
    error = SimpleChatError(detail) if kind is None else kind(detail)
    error.status_code = exc.status_code
    error.headers.update(exc.headers or {})
    return error_response(request, error)


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    path = redact(request.url.path)
    log.warning("api.database_error path=%s error=%s", path, type(exc).__name__)
    return error_response(request, DatabaseUnavailable())


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("api.unhandled_error path=%s", redact(request.url.path))
    error = InternalError()
    if rid := current_request_id():  # sent outside the request-id middleware: add its header
        error.headers["X-Request-ID"] = rid
    return error_response(request, error)


def add_error_handlers(app: FastAPI, *, status_overrides: Mapping[str, int] | None = None) -> None:
    """Every error through one renderer; `status_overrides` answers some codes with another
    status (e.g. {"daily_limit": 401})."""
    app.state.error_status_overrides = dict(status_overrides or {})
    app.add_exception_handler(SimpleChatError, _on_simplechat_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    for database_error in DATABASE_ERRORS:
        app.add_exception_handler(database_error, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected_error)


# --- wire models and the API docs ---
EXAMPLE_REQUEST_ID = "4f0c2a9d8e7b4c1a9f3e2d1c0b9a8f7e"


class RequestModel(BaseModel):
    """The base of every request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class ErrorResponse(BaseModel):
    """Every error has this shape; some add fields (limits add `limit` and `retry_after`)."""

    model_config = ConfigDict(extra="allow")
    error: str = Field(examples=["InvalidCredentials"], description="The error's class name")
    code: str = Field(examples=["invalid_credentials"], description="A stable snake_case code")
    detail: str = Field(examples=["Incorrect username or password."])
    request_id: str = Field(
        examples=[EXAMPLE_REQUEST_ID],
        description="This request's id, also in the X-Request-ID header: quote it in reports",
    )


def example(error: SimpleChatError) -> dict[str, Any]:
    """An error body as the API renders it, for the docs."""
    return {**error_body(error), "request_id": EXAMPLE_REQUEST_ID}


_UPSTREAM = {"provider": "openrouter"}
# What each status means, and the errors it shows by default.
ERROR_STATUSES: dict[int, tuple[str, tuple[SimpleChatError, ...]]] = {
    400: (
        "The provider said the conversation does not fit the model",
        (
            ContextTooLong(
                "The conversation is too long for the model (OpenRouter said: maximum context "
                "length is 32768 tokens)",
                extra=_UPSTREAM,
            ),
        ),
    ),
    401: ("Missing, expired or invalid Bearer token", (NotAuthenticated(),)),
    403: ("You are not allowed to do this", (Forbidden(),)),
    404: ("Not found", (NotFound(),)),
    409: ("A conflict with what is stored", (Conflict("That already exists."),)),
    413: (
        "The request body is too large",
        (PayloadTooLarge("The request body is larger than 1000000 bytes."),),
    ),
    422: (
        "The request is not valid",
        (
            invalid_input(
                [{"loc": ("body", "message"), "msg": "String should have at least 1 character"}]
            ),
        ),
    ),
    429: (
        "Too many attempts from your IP address",
        (
            RateLimited(
                "Too many attempts from your address (10 per 1 minute). Try again later.",
                limit_code="ip_limit",
                retry_after=60,
            ),
        ),
    ),
    502: (
        "The provider refused the request or sent an unreadable answer",
        (
            UpstreamRejected(
                "The server's OpenRouter API key was refused by the provider.",
                extra={**_UPSTREAM, "upstream_status": 401},
            ),
        ),
    ),
    503: (
        "The provider or the database is not available",
        (
            UpstreamUnavailable(
                "OpenRouter is busy or is rate-limiting this server (429: rate limited).",
                extra={**_UPSTREAM, "upstream_status": 429},
            ),
            DatabaseUnavailable(),
        ),
    ),
    504: (
        "The provider did not answer in time",
        (UpstreamTimeout("OpenRouter did not answer in time."),),
    ),
}


def error_responses(
    *statuses: int,
    examples: Mapping[int, Sequence[SimpleChatError]] | None = None,
    descriptions: Mapping[int, str] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the error model, a description and examples for each status.

    `examples` replaces a status's default examples, e.g. the chat routes' 401 also shows
    the message limits.
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, defaults = ERROR_STATUSES.get(status, ("Error", ()))
        chosen = (examples or {}).get(status, defaults)
        shown = {e.error_code: {"summary": e.error_code, "value": example(e)} for e in chosen}
        responses[status] = {
            "model": ErrorResponse,
            "description": (descriptions or {}).get(status, description),
            "content": {"application/json": {"examples": shown}} if shown else {},
        }
    return responses
