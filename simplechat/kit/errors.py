"""The one error hierarchy of simplechat.

Every expected failure is a `SimpleChatError`; `kit.http` renders each in one JSON shape,
`{"error": <ClassName>, "code": <snake_case code>, "detail": <message>, ...extra}`, with its
status (OpenAI's shape under /v1).

    SimpleChatError (500, internal_error)
    ├── InternalError (500)           an unexpected failure (its details are only logged)
    ├── BadRequest (400)
    │   └── InvalidInput (422)
    ├── NotAuthenticated (401)
    │   └── InvalidCredentials (401)
    ├── Forbidden (403)
    ├── NotFound (404)
    ├── MethodNotAllowed (405)
    ├── Conflict (409)
    │   └── UsernameTaken (409)
    ├── PayloadTooLarge (413)
    ├── UnsupportedMediaType (415)
    ├── RateLimited (429; code daily_limit | burst_limit | ip_limit; the app may answer the
    │                per-user limits with 401, as the product's spec has it)
    ├── ServerBusy (503)              too many parallel requests for one account; try again
    │   └── UpstreamCapacity (503)    this worker already has its maximum of provider requests
    │                                 open (SIMPLECHAT_MAX_UPSTREAM_REQUESTS); try again
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
    default_message: ClassVar[str] = "Something went wrong on the server."

    def __init__(
        self,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        message = message or self.default_message
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @property
    def error_code(self) -> str:
        return self.code

    @property
    def name(self) -> str:
        return type(self).__name__


class InternalError(SimpleChatError):
    pass


class BadRequest(SimpleChatError):
    status_code = 400
    code = "bad_request"
    default_message = "The request is not valid."


class InvalidInput(BadRequest):
    status_code = 422
    code = "invalid_input"


class NotAuthenticated(SimpleChatError):
    status_code = 401
    code = "not_authenticated"
    default_message = "Not authenticated: send a valid Bearer token."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    default_message = "Incorrect username or password."


class Forbidden(SimpleChatError):
    status_code = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class NotFound(SimpleChatError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class MethodNotAllowed(SimpleChatError):
    status_code = 405
    code = "method_not_allowed"


class Conflict(SimpleChatError):
    status_code = 409
    code = "conflict"


class UsernameTaken(Conflict):
    code = "username_taken"


class PayloadTooLarge(SimpleChatError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(SimpleChatError):
    status_code = 415
    code = "unsupported_media_type"


class RateLimited(SimpleChatError):
    """A per-user or per-IP limit refused the request. `error_code` says which limit."""

    status_code = 429

    def __init__(
        self,
        message: str,
        *,
        limit_code: str,
        retry_after: int,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        retry_after = max(1, retry_after)
        super().__init__(
            message,
            headers={"Retry-After": str(retry_after)},
            extra={**(extra or {}), "retry_after": retry_after},
        )
        self.limit_code = limit_code

    @property
    def error_code(self) -> str:
        return self.limit_code


class ServerBusy(SimpleChatError):
    status_code = 503
    code = "server_busy"
    default_message = "The server is busy; try again shortly."


class UpstreamCapacity(ServerBusy):
    """Refused at once rather than queued: a queue would hide the overload behind slow answers."""

    code = "upstream_capacity"
    default_message = (
        "The server is answering as many messages as it is configured for; try again shortly."
    )
    RETRY_AFTER_SECONDS = 1

    def __init__(self, message: str | None = None, *, limit: int) -> None:
        super().__init__(
            message,
            headers={"Retry-After": str(self.RETRY_AFTER_SECONDS)},
            extra={"retry_after": self.RETRY_AFTER_SECONDS, "limit": limit},
        )


class DatabaseUnavailable(SimpleChatError):
    status_code = 503
    code = "database_unavailable"
    default_message = "The database is not answering right now; try again shortly."


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
