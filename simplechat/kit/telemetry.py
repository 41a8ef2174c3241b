"""What every layer may record about itself: Prometheus metrics and the current request id.

This module imports only prometheus_client and the standard library, so the HTTP edge, the
services and the providers can all count things without knowing about each other.

Metrics (all named `simplechat_...`):

    http_requests_total{method, route, status}         route is the template, /user/history/{last_n}
    http_request_duration_seconds{method, route}       histogram
    upstream_requests_total{provider, outcome}         outcome: ok or the error code
                                                       (upstream_timeout, upstream_unavailable, ...)
    upstream_request_duration_seconds{provider}        histogram, retries included
    upstream_retries_total{provider}
    upstream_requests_in_flight                        provider requests open now (all workers)
    limit_refusals_total{limit}                        daily_limit | burst_limit | ip_limit
    tokens_total{model, kind}                          kind: prompt | completion

With several worker processes (`simplechat serve --workers N`) each worker counts in its own
memory unless PROMETHEUS_MULTIPROC_DIR names a directory before this module is imported; the CLI
sets it up, and `render()` then adds up every worker's files, so any worker answers /metrics
with the totals.
"""

import os
from contextvars import ContextVar, Token

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

disable_created_metrics()  # type: ignore[no-untyped-call]  # no `*_created` series

# prometheus_client's own convention: the variable is read when the library is imported.
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
UPSTREAM_OK = "ok"
UPSTREAM_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)

HTTP_REQUESTS = Counter(
    "simplechat_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "simplechat_http_request_duration_seconds",
    "Time to answer an HTTP request (until the response is complete).",
    ["method", "route"],
)
UPSTREAM_REQUESTS = Counter(
    "simplechat_upstream_requests",
    "Calls to LLM providers (for streams: opening them), by provider and outcome.",
    ["provider", "outcome"],
)
UPSTREAM_LATENCY = Histogram(
    "simplechat_upstream_request_duration_seconds",
    "Time of a provider call, retries included.",
    ["provider"],
    buckets=UPSTREAM_BUCKETS,
)
UPSTREAM_RETRIES = Counter(
    "simplechat_upstream_retries",
    "Provider attempts that failed and were tried again.",
    ["provider"],
)
UPSTREAM_IN_FLIGHT = Gauge(
    "simplechat_upstream_requests_in_flight",
    "Provider requests (calls and open streams) in progress; at SIMPLECHAT_MAX_UPSTREAM_REQUESTS "
    "per worker the next is refused with 503 upstream_capacity.",
    multiprocess_mode="livesum",
)
LIMIT_REFUSALS = Counter(
    "simplechat_limit_refusals",
    "Requests refused by a limit: daily_limit, burst_limit (per user) or ip_limit (per IP).",
    ["limit"],
)
TOKENS = Counter(
    "simplechat_tokens",
    "Tokens of answered chat requests, by model and kind (prompt or completion).",
    ["model", "kind"],
)

_request_id: ContextVar[str | None] = ContextVar("simplechat_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the HTTP request being handled, or None outside a request."""
    return _request_id.get()


def bind_request_id(request_id: str) -> Token[str | None]:
    return _request_id.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


def record_upstream(provider: str, outcome: str, seconds: float) -> None:
    """One provider call ended: `outcome` is UPSTREAM_OK or the error code it failed with."""
    UPSTREAM_REQUESTS.labels(provider, outcome).inc()
    UPSTREAM_LATENCY.labels(provider).observe(seconds)


def record_upstream_in_flight(change: int) -> None:
    UPSTREAM_IN_FLIGHT.inc(change)


def record_upstream_refusal(provider: str) -> None:
    """A provider request refused because the worker had its maximum open."""
    UPSTREAM_REQUESTS.labels(provider, "upstream_capacity").inc()


def record_upstream_retry(provider: str) -> None:
    UPSTREAM_RETRIES.labels(provider).inc()


def record_limit_refusal(limit: str) -> None:
    LIMIT_REFUSALS.labels(limit).inc()


def record_tokens(model: str, prompt: int, completion: int) -> None:
    """Count the tokens of one answered request (the provider's usage, or our own count)."""
    TOKENS.labels(model, "prompt").inc(max(0, prompt))
    TOKENS.labels(model, "completion").inc(max(0, completion))


def render() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type.

    In multiprocess mode the totals come from every worker's files, not from this process.
    """
    registry = REGISTRY
    if os.environ.get(MULTIPROC_DIR_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
