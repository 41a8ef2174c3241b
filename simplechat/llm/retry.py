"""Retrying upstream calls, and turning upstream failures into simplechat errors.

Every HTTP provider shares one mapping from an upstream status to the error hierarchy:

    401, 403            -> UpstreamRejected  "The server's <Label> API key was refused" (no key)
    402                 -> UpstreamRejected  the provider account is out of credits
    400 context length  -> ContextTooLong
    other 4xx           -> UpstreamRejected  with the provider's message
    408, 504, 524       -> UpstreamTimeout      (after retries)
    429, 503, 529       -> UpstreamUnavailable  (after retries)
    other 5xx           -> UpstreamError        (after retries)
    connect error       -> UpstreamUnavailable  (after retries)
    connect timeout     -> UpstreamTimeout      (after retries)
    read timeout        -> UpstreamTimeout      (not retried: the upstream is already working)

`call_with_retry` (on tenacity) retries an attempt that raised `RetryableError` with exponential
backoff, or after the upstream's `Retry-After` when it sent one. A `Retry-After` longer than the
policy allows ends the retries at once; the error then carries the hint in its `Retry-After`
header.
Streams are retried only while opening them, never after a chunk was yielded.
"""

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from simplechat.kit import telemetry
from simplechat.kit.errors import (
    ContextTooLong,
    ProviderKeyRefused,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 524, 529})
UNAVAILABLE_STATUSES = frozenset({429, 503, 529})
TIMEOUT_STATUSES = frozenset({408, 504, 524})
KEY_REFUSED_STATUSES = frozenset({401, 403})
PAYMENT_REQUIRED_STATUS = 402
CONTEXT_ERROR_TYPE = "context_length_exceeded"
CONTEXT_MARKERS = (
    "context length",
    "context_length",
    "maximum context",
    "context window",
    "range of input length",
)
BACKOFF_MULTIPLIER = 2.0
MAX_MESSAGE_CHARS = 500

log = logging.getLogger("simplechat.providers")

T = TypeVar("T")


Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times to retry, how long to back off, and the longest `Retry-After` we wait for.
    `sleep` waits between attempts (tests pass one that records instead of waiting)."""

    max_retries: int = 2
    backoff_seconds: float = 0.5
    max_retry_after_seconds: float = 10.0
    sleep: Sleep = asyncio.sleep

    def wait_before(self, retry: int, retry_after: float | None) -> float | None:
        """Seconds to sleep before retry number `retry` (0-based), or None to give up now."""
        if retry >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after_seconds else None
        return self.backoff_seconds * BACKOFF_MULTIPLIER**retry


class RetryableError(Exception):
    """An attempt failed in a way another attempt may fix. Never escapes a provider:
    `call_with_retry` raises `.error` once it stops retrying."""

    def __init__(self, error: UpstreamError, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


async def _awaited(attempt: Callable[[], Awaitable[T]]) -> T:
    """`attempt()` as a coroutine function (tenacity runs a plain lambda as sync code)."""
    return await attempt()


def _wait(policy: RetryPolicy, state: RetryCallState) -> float | None:
    """The policy's wait before the next attempt (None: give up), from the last failure."""
    failure = state.outcome.exception() if state.outcome else None
    if not isinstance(failure, RetryableError):
        return None
    return policy.wait_before(state.attempt_number - 1, failure.retry_after)


async def call_with_retry(
    policy: RetryPolicy, provider: str, attempt: Callable[[], Awaitable[T]]
) -> T:
    """Await `attempt()` until it succeeds, raises a non-retryable error, or retries run out
    (tenacity drives the loop; the policy decides each wait)."""
    started = time.perf_counter()

    def record(outcome: str) -> None:
        telemetry.record_upstream(provider, outcome, time.perf_counter() - started)

    def log_retry(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        assert isinstance(failure, RetryableError)
        wait = state.upcoming_sleep
        log.info("provider.%s.retry %s retry=%d wait_s=%.2f",
                 provider, _describe(failure), state.attempt_number, wait)  # fmt: skip
        telemetry.record_upstream_retry(provider)

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(RetryableError),
        stop=lambda state: _wait(policy, state) is None,
        wait=lambda state: _wait(policy, state) or 0.0,
        sleep=policy.sleep,
        before_sleep=log_retry,
        reraise=True,
    )
    try:
        result: T = await retrying(_awaited, attempt)
    except RetryableError as failure:
        attempts = retrying.statistics.get("attempt_number", 1)
        log.warning("provider.%s.gave_up %s attempts=%d", provider, _describe(failure), attempts)
        record(failure.error.code)
        raise failure.error from failure.__cause__
    except UpstreamError as error:
        status = error.extra.get("upstream_status", "-")
        log.warning("provider.%s.failed status=%s error=%s", provider, status, error.code)
        record(error.code)
        raise
    record(telemetry.UPSTREAM_OK)
    return result


def _describe(failure: RetryableError) -> str:
    """Log context for a failed attempt: status, error code, cause; never the request itself."""
    status = failure.error.extra.get("upstream_status", "-")
    cause = type(failure.__cause__).__name__ if failure.__cause__ else "-"
    return (
        f"status={status} error={failure.error.code} cause={cause} "
        f"retry_after={failure.retry_after}"
    )


def error_for_status(
    provider: str,
    label: str,
    status: int,
    message: str,
    *,
    error_type: str | None = None,
    retry_after: float | None = None,
) -> UpstreamError:
    """The simplechat error for an upstream HTTP status and its message (see the module doc)."""
    extra: dict[str, Any] = {"provider": provider, "upstream_status": status}
    headers: dict[str, str] = {}
    if retry_after is not None:
        extra["retry_after"] = math.ceil(retry_after)
        headers["Retry-After"] = str(math.ceil(retry_after))
    message = message[:MAX_MESSAGE_CHARS]
    if status in KEY_REFUSED_STATUSES:
        text = f"The server's {label} API key was refused by the provider."
        return UpstreamRejected(text, extra=extra)
    if status == PAYMENT_REQUIRED_STATUS:
        text = f"The server's {label} account is out of credits: {message}"
        return UpstreamRejected(text, extra=extra)
    if status == 400 and is_context_error(message, error_type):
        text = f"The conversation is too long for the model ({label} said: {message})"
        return ContextTooLong(text, extra=extra)
    if status in TIMEOUT_STATUSES:
        return UpstreamTimeout(f"{label} timed out ({status}).", headers=headers, extra=extra)
    if status in UNAVAILABLE_STATUSES:
        text = f"{label} is busy or is rate-limiting this server ({status}: {message})."
        return UpstreamUnavailable(text, headers=headers, extra=extra)
    if 400 <= status < 500:
        return UpstreamRejected(f"{label} rejected the request: {message}", extra=extra)
    return UpstreamError(f"{label} failed to answer ({status}): {message}", extra=extra)


@contextmanager
def own_key_refusals(api_key: str | None, provider: str, label: str) -> Iterator[None]:
    """A 401/403 from the provider on a call made with the caller's own key is about their
    key (a 400 that says so), not the server's (a 502)."""
    try:
        yield
    except UpstreamRejected as exc:
        if api_key is None or exc.extra.get("upstream_status") not in KEY_REFUSED_STATUSES:
            raise
        raise ProviderKeyRefused(
            f"{label} refused your own API key: check it, or store a new one with "
            f"PUT /user/provider-keys/{provider}."
        ) from None


def failure_for_status(
    provider: str,
    label: str,
    status: int,
    message: str,
    *,
    error_type: str | None = None,
    retry_after: float | None = None,
) -> Exception:
    """Like `error_for_status`, wrapped in `RetryableError` when the status is worth retrying."""
    error = error_for_status(
        provider, label, status, message, error_type=error_type, retry_after=retry_after
    )
    return RetryableError(error, retry_after) if status in RETRYABLE_STATUSES else error


def is_context_error(message: str, error_type: str | None = None) -> bool:
    lowered = message.lower()
    return error_type == CONTEXT_ERROR_TYPE or any(m in lowered for m in CONTEXT_MARKERS)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: a number or an HTTP date. None when absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def bad_response(provider: str, label: str, what: str) -> UpstreamBadResponse:
    return UpstreamBadResponse(
        f"{label} sent an unreadable reply: {what}.", extra={"provider": provider}
    )


def stream_cut(provider: str, label: str) -> UpstreamBadResponse:
    text = f"The {label} stream ended before the answer was complete."
    return UpstreamBadResponse(text, extra={"provider": provider, "incomplete": True})


@contextmanager
def transport_failures(provider: str, label: str) -> Iterator[None]:
    """Turn aiohttp transport errors into upstream errors: connection failures and connect
    timeouts are retryable, read timeouts are not."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        error = UpstreamTimeout(
            f"Could not connect to {label} in time.", extra={"provider": provider}
        )
        raise RetryableError(error) from exc
    except TimeoutError as exc:
        # A read timeout: the upstream took the request and is slow. Sending it again would
        # double the wait (and perhaps the bill), so it is not retried.
        text = f"{label} did not answer in time."
        raise UpstreamTimeout(text, extra={"provider": provider}) from exc
    except aiohttp.ClientError as exc:
        text = f"Could not reach {label} ({type(exc).__name__})."
        raise RetryableError(UpstreamUnavailable(text, extra={"provider": provider})) from exc


@contextmanager
def stream_failures(provider: str, label: str) -> Iterator[None]:
    """Inside a stream that already yielded: transport errors end it, without any retry."""
    try:
        yield
    except TimeoutError as exc:
        text = f"{label} stopped sending in the middle of the answer."
        raise UpstreamTimeout(text, extra={"provider": provider, "incomplete": True}) from exc
    except aiohttp.ClientError as exc:
        raise stream_cut(provider, label) from exc
