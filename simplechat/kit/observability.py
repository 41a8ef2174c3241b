"""The HTTP edge's observability: request ids, request metrics and access logs, CORS, /metrics.

`RequestObservability` is the outermost middleware. For every HTTP request it
- takes the caller's `X-Request-ID` when it is sane (1-128 letters, digits and `._:-`), or makes
  one, binds it for the logs and error bodies (`telemetry.current_request_id()`), and returns it
  in the `X-Request-ID` response header;
- times the request and counts it by route *template* (`/user/history/{last_n}`, never the raw
  path, so the label set stays small; `<unmatched>` for paths no route serves);
- writes one access-log line: method, route, path, status, duration. Never headers, bodies or
  query strings, so neither tokens nor message text reach the logs.
"""

import hmac
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from starlette.datastructures import MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simplechat.config import Settings
from simplechat.kit import telemetry
from simplechat.kit.errors import NotAuthenticated
from simplechat.kit.http import error_response
from simplechat.kit.logs import ensure_logging, redact

REQUEST_ID_HEADER = "X-Request-ID"
METRICS_URL = "/metrics"
UNMATCHED_ROUTE = "<unmatched>"
QUIET_ROUTES = frozenset({METRICS_URL, "/healthz"})  # probes and scrapes log at DEBUG only
CORS_HEADERS = ["Authorization", "Content-Type", REQUEST_ID_HEADER]
CORS_EXPOSED_HEADERS = [REQUEST_ID_HEADER, "Retry-After"]
CORS_MAX_AGE_SECONDS = 600
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access_log = logging.getLogger("simplechat.access")


class RequestObservability:
    """Request id, metrics and access log for every HTTP request (see the module doc)."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        token = telemetry.bind_request_id(request_id)
        matched = self._top_level_template(scope)  # before routing rewrites the scope
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # The request id stays bound: the 500 handler outside this middleware (Starlette's
            # ServerErrorMiddleware) writes it into the error body. Each request runs in its own
            # context, so it does not leak into the next one.
            self._finish(scope, _selected_template(scope) or matched, status or 500, started)
            raise
        self._finish(scope, _selected_template(scope) or matched, status or 500, started)
        telemetry.unbind_request_id(token)

    def _top_level_template(self, scope: Scope) -> str | None:
        """The path of the app-level route (a Mount, /openapi.json...) that will serve `scope`,
        as Starlette's router picks it: the first full match, else the first partial one.
        Routes of included routers are found after the call, in scope["route"]."""
        partial: str | None = None
        for route in self.routes:
            path = getattr(route, "path", None)
            if not isinstance(path, str):
                continue
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return path
            if match == Match.PARTIAL and partial is None:
                partial = path
        return partial

    @staticmethod
    def _finish(scope: Scope, route: str | None, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        route = route or UNMATCHED_ROUTE
        method = scope["method"]
        telemetry.observe_request(method, route, status, seconds)
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        access_log.log(
            level,
            "http.request method=%s path=%s status=%s duration_ms=%.1f",
            method,
            redact(scope["path"]),  # a path may carry a secret (a redeem code)
            status,
            seconds * 1000,
            extra={
                "request_id": telemetry.current_request_id(),
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
            },
        )


def _selected_template(scope: Scope) -> str | None:
    """The template of the API route that served the request (FastAPI sets scope["route"])."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _SANE_REQUEST_ID.fullmatch(candidate) else None
    return None


def metrics_endpoint(token: str | None) -> Callable[[Request], Awaitable[Response]]:
    """/metrics: Prometheus metrics (text exposition format), for anyone, or with `token`
    (SIMPLECHAT_METRICS_TOKEN) only for `Authorization: Bearer <token>` (401 otherwise)."""
    expected = None if token is None else f"Bearer {token}".encode()

    async def metrics(request: Request) -> Response:
        if expected is not None:
            sent = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(sent, expected):
                refusal = NotAuthenticated("/metrics needs the metrics token as a Bearer token.")
                return error_response(request, refusal)
        body, content_type = telemetry.render()
        return Response(body, media_type=content_type)

    return metrics


def install_observability(app: FastAPI, settings: Settings) -> None:
    """Logging (unless the CLI or uvicorn configured it), CORS, /metrics, and request ids.

    Call it after every other middleware is added: the request id must wrap them all, so that
    their error responses (413, 429...) carry it too.
    """
    ensure_logging(settings.log_level, settings.log_format)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=CORS_MAX_AGE_SECONDS,
        )
    if settings.metrics_enabled:
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        endpoint = metrics_endpoint(token)
        app.add_api_route(METRICS_URL, endpoint, methods=["GET"], include_in_schema=False)
    app.add_middleware(RequestObservability, routes=app.router.routes)
