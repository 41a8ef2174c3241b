"""The one error hierarchy of simplechat.

Every expected failure is a `SimpleChatError`; `kit.http` renders each in one JSON shape,
`{"error": <ClassName>, "code": <snake_case code>, "detail": <message>, ...extra}`, with its
status (OpenAI's shape under /v1).

    SimpleChatError (500, internal_error)
    ├── InternalError (500)           an unexpected failure (its details are only logged)
    ├── BadRequest (400)
    │   ├── UnknownModel (400)        media: /v1/audio/transcriptions names no model here
    │   ├── ProviderKeyRefused (400)  the provider refused the caller's own key (BYOK)
    │   ├── ProviderKeyMissing (400)  keys: BYOK required and the user has no key for it
    │   ├── UnsupportedParameter (400)  the model cannot take a parameter asked for (`param`
    │   │                             names it; llm/parameters.py decides)
    │   └── InvalidInput (422)
    │       ├── ModelTakesNoImages (422)  chat/errors.py: image parts to a text-only model
    │       ├── CorruptMedia (422)    media: a corrupt, truncated or empty file; odd-length PCM
    │       ├── MediaTooLong (422)    media: over 10 minutes of audio
    │       ├── TooManyPixels (422)   media: a pixel bomb or a huge picture
    │       └── InvalidImage (422)    accounts: not an image, truncated, a pixel bomb
    ├── NotAuthenticated (401)
    │   ├── InvalidCredentials (401)
    │   ├── InvalidRefreshToken (401)      accounts: unknown, expired, used or revoked
    │   ├── WeChatCodeInvalid (401)        accounts: WeChat refused the login code
    │   └── ApiKeyRefused (401)            keys: unknown, disabled, expired or deleted key
    ├── PaymentRequired (402)
    │   └── InsufficientCredits (402)     billing: the balance does not cover a turn's worst case
    ├── Forbidden (403)
    │   ├── KeyNotAllowed (403)       a personal API key on a route that manages the account
    │   │                             or the server (keys, password, profile, /admin...)
    │   ├── KeyLockedByAdmin (403)    keys: an admin disabled the key; only an admin enables it
    │   └── ModelNotAllowed (403)     keys: a model outside the key's allow-list
    ├── NotFound (404)
    │   ├── ApiKeyNotFound (404)      keys: missing, or another user's
    │   ├── ConversationNotFound (404)    chat/errors.py: missing, or another user's
    │   ├── TaskNotFound (404)            tasks/errors.py: missing, or another user's
    │   ├── PresetNotFound (404)          presets/errors.py: missing, or another user's private
    │   └── CreditsDisabled, CodeNotFound, UserNotFound (404)   billing/errors.py
    ├── MethodNotAllowed (405)
    ├── Conflict (409)
    │   ├── UsernameTaken (409)
    │   ├── NothingToRegenerate (409)     chat/errors.py: no user message to answer again
    │   ├── PresetReadOnly (409)          presets/errors.py: the built-ins come from settings
    │   ├── LastAdmin (409)               accounts: the last admin stays an admin
    │   ├── NoPassword (409)              accounts: set a password first
    │   ├── StreamAlreadyClaimed (409)    tasks/errors.py: a task is streamed once
    │   ├── TaskFinished (409)            tasks/errors.py: nothing left to cancel
    │   └── CodeUsed, CodeDisabled, BalanceTooLow (409)   billing/errors.py
    ├── Gone (410)
    │   └── CodeExpired (410)             billing/errors.py
    ├── PayloadTooLarge (413)
    │   └── MediaTooLarge (413)       media: a file over 25 MB
    ├── UnsupportedMediaType (415)
    │   ├── NotAudio (415)            media
    │   └── NotAPicture (415)         media
    ├── RateLimited (429; code daily_limit | burst_limit | ip_limit | speech_quota |
    │                picture_quota | wechat_rate_limit | redeem_limit | key_daily_limit |
    │                login_limit | password_limit | avatar_limit (accounts/throttles.py); the
    │                app may answer the per-user message limits with 401, as the product's
    │                spec has it)
    ├── ServerBusy (503)              too many parallel requests for one account, a busy
    │   │                             local media engine, or the decoding threads full
    │   │                             (kit/executors.py); try again
    │   └── UpstreamCapacity (503)    this worker already has its maximum of provider requests
    │                                 open (SIMPLECHAT_MAX_UPSTREAM_REQUESTS); try again
    ├── EngineUnavailable (503)       media: no speech or picture engine installed or set
    ├── DatabaseUnavailable (503)
    ├── ClientDisconnected (499)      recorded on a stream the client left; never sent
    ├── TaskAbandoned (503), TaskCancelled (409), ServerStopped (503), StreamTimeout (504)
    │                                 tasks/errors.py: how a task's stream ends (an error
    │                                 event, never a response's status)
    └── UpstreamError (502)
        ├── UpstreamRejected (502)     the server's provider key or request was refused
        ├── UpstreamBadResponse (502)  the provider answered something unreadable
        │   └── WeChatBadResponse (502)    accounts
        ├── UpstreamUnavailable (503)  the provider is overloaded or rate-limited us
        │   ├── WeChatBusy (503)           accounts: WeChat's -1, with Retry-After
        │   └── WeChatNotConfigured (503)  accounts: names the settings to set
        ├── UpstreamTimeout (504)
        │   └── WeChatTimeout (504)        accounts
        ├── WeChatError (502)          accounts: any other WeChat errcode
        ├── LocalEngineFailed (502)    llm/local.py: a local speech or picture engine failed
        └── ContextTooLong (400)       the provider said the prompt does not fit

Capabilities keep their own subclasses in their `errors.py` (marked above with theirs).
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


class ProviderKeyRefused(BadRequest):
    """The provider refused the caller's own API key (not the server's: that is a 502)."""

    code = "provider_key_refused"


class UnsupportedParameter(BadRequest):
    """A parameter the model cannot take (tools to a model without tool use, `n` > 1 to a
    vendor that answers once...): `extra["param"]` names it, as OpenAI's `param` does."""

    code = "unsupported_parameter"

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message, extra={"param": param})


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


class PaymentRequired(SimpleChatError):
    status_code = 402
    code = "payment_required"
    default_message = "Not enough credits."


class Forbidden(SimpleChatError):
    status_code = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class KeyNotAllowed(Forbidden):
    """A personal API key on a route that manages the account or the server."""

    code = "key_not_allowed"
    default_message = (
        "Personal API keys may use models and read usage, not manage the account or the "
        "server: log in (POST /token) and send the access token instead."
    )


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


class Gone(SimpleChatError):
    status_code = 410
    code = "gone"
    default_message = "This is no longer available."


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
