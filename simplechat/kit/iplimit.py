"""Per-IP protection (slowapi) for the unauthenticated endpoints: log in and sign up.

Counts live in each process's memory, so with N workers an IP gets up to N times the limit;
that is enough against password guessing and sign-up spam. Per-user chat limits are the
exact ones, in MongoDB.
"""

from fastapi import Request
from fastapi.responses import JSONResponse
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address

from simplechat.kit.errors import RateLimited
from simplechat.kit.http import error_response
from simplechat.kit.telemetry import record_limit_refusal

IP_LIMIT_CODE = "ip_limit"


def make_limiter() -> Limiter:
    return Limiter(key_func=get_remote_address, headers_enabled=False)


async def on_ip_limit(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimitExceeded)
    window = exc.limit.limit if exc.limit is not None else None
    retry_after = max(1, int(window.get_expiry())) if window is not None else 60
    record_limit_refusal(IP_LIMIT_CODE)
    error = RateLimited(
        f"Too many attempts from your address ({window or 'limit reached'}). Try again later.",
        limit_code=IP_LIMIT_CODE,
        retry_after=retry_after,
    )
    return error_response(request, error)
