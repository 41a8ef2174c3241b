"""The accounts capability's errors (drawn in the tree of kit/errors.py)."""

from simplechat.kit.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    RateLimited,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

WECHAT = {"provider": "wechat"}


class InvalidRefreshToken(NotAuthenticated):
    code = "invalid_refresh_token"
    default_message = "The refresh token is not valid (expired, revoked or already used): log in."


class LastAdmin(Conflict):
    code = "last_admin"
    default_message = "This is the last admin: promote someone else first."


class NoPassword(Conflict):
    code = "no_password"
    default_message = "This account has no password yet: set one first (POST /user/me/password)."


class InvalidImage(InvalidInput):
    code = "invalid_image"


class WeChatNotConfigured(UpstreamUnavailable):
    code = "wechat_not_configured"
    default_message = (
        "WeChat login is not configured on this server: set SIMPLECHAT_WECHAT_APP_ID and "
        "SIMPLECHAT_WECHAT_APP_SECRET."
    )

    def __init__(self) -> None:
        super().__init__(extra=WECHAT)


class WeChatCodeInvalid(NotAuthenticated):
    code = "wechat_code_invalid"
    default_message = "WeChat refused the login code (invalid, expired or already used)."


class WeChatBusy(UpstreamUnavailable):
    code = "wechat_busy"
    default_message = "WeChat is busy right now; try again in a moment."
    RETRY_AFTER_SECONDS = 2

    def __init__(self) -> None:
        super().__init__(
            headers={"Retry-After": str(self.RETRY_AFTER_SECONDS)},
            extra={**WECHAT, "retry_after": self.RETRY_AFTER_SECONDS},
        )


def wechat_rate_limited() -> RateLimited:
    return RateLimited(
        "WeChat says this user logs in too often; wait a minute.",
        limit_code="wechat_rate_limit",
        retry_after=60,
        extra=WECHAT,
    )


class WeChatError(UpstreamError):
    code = "wechat_error"


class WeChatBadResponse(UpstreamBadResponse):
    code = "wechat_bad_response"


class WeChatTimeout(UpstreamTimeout):
    code = "wechat_timeout"
    default_message = "WeChat did not answer in time."
