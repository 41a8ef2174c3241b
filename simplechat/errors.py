"""The one error hierarchy of simplechat.

Every expected failure is a `SimpleChatError`; the API turns each into the same JSON shape
`{"error": <ClassName>, "code": <snake_case code>, "detail": <message>, ...extra}` with its status.

    SimpleChatError (500)
    ├── BadRequest (400)
    │   └── InvalidInput (422)
    ├── NotAuthenticated (401)
    │   └── InvalidCredentials (401)
    ├── RateLimited (401 by default, configurable; code daily_limit | burst_limit)
    ├── NotFound (404)
    ├── UsernameTaken (409)
    ├── PayloadTooLarge (413)
    ├── DatabaseUnavailable (503)
    ├── ClientDisconnected (499)      recorded on a stream the client left; never sent
    └── UpstreamError (502)
        ├── UpstreamRejected (502)     the server's provider key or request was refused
        ├── UpstreamBadResponse (502)  the provider answered something unreadable
        ├── UpstreamUnavailable (503)  the provider is overloaded or rate-limited us
        ├── UpstreamTimeout (504)
        └── ContextTooLong (400)       the provider said the prompt does not fit
"""

from collections.abc import Mapping
from typing import Any, ClassVar


class SimpleChatError(Exception):
    status_code: int = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @property
    def error_code(self) -> str:
        return self.code


class BadRequest(SimpleChatError):
    status_code = 400
    code = "bad_request"


class InvalidInput(SimpleChatError):
    status_code = 422
    code = "invalid_input"


class NotAuthenticated(SimpleChatError):
    status_code = 401
    code = "not_authenticated"

    def __init__(self, message: str = "Not authenticated: send a valid Bearer token.") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"

    def __init__(self, message: str = "Incorrect username or password.") -> None:
        super().__init__(message)


class RateLimited(SimpleChatError):
    """A per-user or per-IP limit refused the request. `code` says which limit."""

    status_code = 401

    def __init__(
        self,
        message: str,
        *,
        limit_code: str,
        retry_after: int,
        status_code: int = 401,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        retry_after = max(1, retry_after)
        super().__init__(
            message,
            headers={"Retry-After": str(retry_after)},
            extra={**(extra or {}), "retry_after": retry_after},
        )
        self.limit_code = limit_code
        self.status_code = status_code

    @property
    def error_code(self) -> str:
        return self.limit_code


class NotFound(SimpleChatError):
    status_code = 404
    code = "not_found"


class UsernameTaken(SimpleChatError):
    status_code = 409
    code = "username_taken"


class PayloadTooLarge(SimpleChatError):
    status_code = 413
    code = "payload_too_large"


class DatabaseUnavailable(SimpleChatError):
    status_code = 503
    code = "database_unavailable"


class ClientDisconnected(SimpleChatError):
    status_code = 499
    code = "client_disconnected"


class UpstreamError(SimpleChatError):
    status_code = 502
    code = "upstream_error"


class UpstreamRejected(UpstreamError):
    code = "upstream_rejected"


class UpstreamBadResponse(UpstreamError):
    code = "upstream_bad_response"


class UpstreamUnavailable(UpstreamError):
    status_code = 503
    code = "upstream_unavailable"


class UpstreamTimeout(UpstreamError):
    status_code = 504
    code = "upstream_timeout"


class ContextTooLong(UpstreamError):
    status_code = 400
    code = "context_too_long"
