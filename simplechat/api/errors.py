"""One JSON shape for every error: {"error": <ClassName>, "code": <code>, "detail": <message>}.

Under /v1/ (the OpenAI-compatible API) the same errors take OpenAI's shape,
{"error": {"message", "type", "code", "param"}}, so OpenAI clients show them properly.
"""

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from simplechat.errors import DatabaseUnavailable, SimpleChatError
from simplechat.storage.mongo import DATABASE_ERRORS
from simplechat.telemetry import current_request_id

log = logging.getLogger("simplechat.api")

_HTTP_CODES = {
    400: ("BadRequest", "bad_request"),
    401: ("NotAuthenticated", "not_authenticated"),
    403: ("Forbidden", "forbidden"),
    404: ("NotFound", "not_found"),
    405: ("MethodNotAllowed", "method_not_allowed"),
    413: ("PayloadTooLarge", "payload_too_large"),
    415: ("UnsupportedMediaType", "unsupported_media_type"),
}


FASTAPI_BODY_ERROR = "There was an error parsing the body"


def error_body(name: str, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    request_id = {"request_id": rid} if (rid := current_request_id()) else {}
    return {"error": name, "code": code, "detail": detail, **extra, **request_id}


OPENAI_PREFIX = "/v1/"


def _openai_type(status: int, code: str) -> str:
    if code.endswith("_limit") or status == 429:
        return "rate_limit_error"
    if status == 401:
        return "authentication_error"
    if status == 404:
        return "not_found_error"
    if status >= 500:
        return "api_error"
    return "invalid_request_error"


def respond(
    request: Request, body: dict[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The error response, in OpenAI's shape under /v1/."""
    if request.url.path.startswith(OPENAI_PREFIX):
        code = str(body.get("code", "error"))
        body = {
            "error": {
                "message": body.get("detail", ""),
                "type": _openai_type(status, code),
                "code": code,
                "param": None,
                **({"request_id": body["request_id"]} if "request_id" in body else {}),
            }
        }
    return JSONResponse(body, status_code=status, headers=headers or None)


def error_response(request: Request, exc: SimpleChatError) -> JSONResponse:
    body = error_body(type(exc).__name__, exc.error_code, exc.message, **exc.extra)
    return respond(request, body, exc.status_code, exc.headers)


def _describe(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    where = ".".join(loc)
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))


async def _on_simplechat_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SimpleChatError)
    return error_response(request, exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    detail = "; ".join(_describe(e) for e in errors) or "The request is not valid."
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = "The request body is not valid JSON."
    problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors]
    body = error_body("InvalidInput", "invalid_input", detail, problems=problems)
    return respond(request, body, 422)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == FASTAPI_BODY_ERROR:
        # A body FastAPI cannot even decode (not UTF-8, say) is invalid JSON like any other:
        # the same documented 422 instead of an undocumented 400.
        detail = "The request body is not valid JSON."
        problems = [{"loc": ["body"], "msg": detail}]
        body = error_body("InvalidInput", "invalid_input", detail, problems=problems)
        return respond(request, body, 422)
    name, code = _HTTP_CODES.get(exc.status_code, ("HTTPError", "http_error"))
    detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No such endpoint: {request.method} {request.url.path}"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    return respond(request, error_body(name, code, detail), exc.status_code, exc.headers)


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("api.database_error path=%s error=%s", request.url.path, type(exc).__name__)
    return error_response(
        request, DatabaseUnavailable("The database is not answering right now; try again shortly.")
    )


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("api.unhandled_error path=%s", request.url.path)
    body = error_body("InternalError", "internal_error", "Something went wrong on the server.")
    rid = current_request_id()  # sent outside the request-id middleware: add its header here
    return respond(request, body, 500, {"X-Request-ID": rid} if rid else None)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SimpleChatError, _on_simplechat_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    for database_error in DATABASE_ERRORS:
        app.add_exception_handler(database_error, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
