"""One JSON shape for every error: {"error": <ClassName>, "code": <code>, "detail": <message>}."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from simplechat.errors import DatabaseUnavailable, SimpleChatError
from simplechat.storage.mongo import DATABASE_ERRORS

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


def error_body(name: str, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": name, "code": code, "detail": detail, **extra}


def error_response(exc: SimpleChatError) -> JSONResponse:
    body = error_body(type(exc).__name__, exc.error_code, exc.message, **exc.extra)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers or None)


def _describe(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    where = ".".join(loc)
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))


async def _on_simplechat_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SimpleChatError)
    return error_response(exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    detail = "; ".join(_describe(e) for e in errors) or "The request is not valid."
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = "The request body is not valid JSON."
    problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors]
    body = error_body("InvalidInput", "invalid_input", detail, problems=problems)
    return JSONResponse(body, status_code=422)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    name, code = _HTTP_CODES.get(exc.status_code, ("HTTPError", "http_error"))
    detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No such endpoint: {request.method} {request.url.path}"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    return JSONResponse(
        error_body(name, code, detail), status_code=exc.status_code, headers=exc.headers
    )


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("api.database_error path=%s error=%s", request.url.path, type(exc).__name__)
    return error_response(
        DatabaseUnavailable("The database is not answering right now; try again shortly.")
    )


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("api.unhandled_error path=%s", request.url.path)
    body = error_body("InternalError", "internal_error", "Something went wrong on the server.")
    return JSONResponse(body, status_code=500)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SimpleChatError, _on_simplechat_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    for database_error in DATABASE_ERRORS:
        app.add_exception_handler(database_error, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
