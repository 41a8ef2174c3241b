"""WeChat mini-program login: exchange a `wx.login()` code for the user's openid.

    GET {base}/sns/jscode2session?appid=...&secret=...&js_code=...&grant_type=authorization_code

WeChat answers HTTP 200 with JSON, often labelled `text/plain`: `{"openid", "session_key",
"unionid"?}`, or `{"errcode", "errmsg"}`. The request URL carries the app secret and the answer
a session key: neither is ever logged or put in an error, and the session key is not kept.
"""

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

from simplechat.accounts.errors import (
    WeChatBadResponse,
    WeChatBusy,
    WeChatCodeInvalid,
    WeChatError,
    WeChatTimeout,
    wechat_rate_limited,
)
from simplechat.kit.errors import SimpleChatError, UpstreamUnavailable

log = logging.getLogger("simplechat.wechat")

SESSION_PATH = "/sns/jscode2session"
TIMEOUT_SECONDS = 10.0
BUSY = -1
INVALID_CODE = 40029
CODE_USED = 40163  # widely reported for a code sent twice: as much the client's fault as 40029
TOO_FREQUENT = 45011


@dataclass(frozen=True, slots=True)
class WeChatIdentity:
    openid: str
    unionid: str | None


class WeChatClient:
    def __init__(
        self, *, session: aiohttp.ClientSession, app_id: str, app_secret: str, base_url: str
    ) -> None:
        self._session = session
        self._app_id = app_id
        self._app_secret = app_secret
        self._url = base_url.rstrip("/") + SESSION_PATH

    async def identify(self, code: str) -> WeChatIdentity:
        """Who the login code belongs to, or the error WeChat's answer means."""
        params = {
            "appid": self._app_id,
            "secret": self._app_secret,
            "js_code": code,
            "grant_type": "authorization_code",
        }
        try:
            async with self._session.get(
                self._url, params=params, timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
            ) as response:
                status = response.status
                body = await response.json(content_type=None) if status == 200 else None
        except TimeoutError as exc:
            raise WeChatTimeout(extra={"provider": "wechat"}) from exc
        except aiohttp.ClientError as exc:
            # the exception's text may hold the URL (and so the secret): only its type is kept
            log.warning("wechat.unreachable error=%s", type(exc).__name__)
            raise UpstreamUnavailable(
                "WeChat could not be reached; try again shortly.", extra={"provider": "wechat"}
            ) from None
        except ValueError as exc:  # not JSON
            raise WeChatBadResponse("WeChat answered something unreadable.") from exc
        return _identity(status, body)


def _identity(status: int, body: Any) -> WeChatIdentity:
    if status != 200 or not isinstance(body, dict):
        log.warning("wechat.bad_response status=%s", status)
        raise WeChatBadResponse(f"WeChat answered HTTP {status} without a login result.")
    errcode = _int_or(body.get("errcode"), default=-2)
    if errcode:
        raise _error(errcode, str(body.get("errmsg", "")))
    openid = body.get("openid")
    if not isinstance(openid, str) or not openid:
        raise WeChatBadResponse("WeChat's answer has no openid.")
    unionid = body.get("unionid")
    return WeChatIdentity(openid=openid, unionid=unionid if isinstance(unionid, str) else None)


def _int_or(value: Any, *, default: int) -> int:
    if value is None:
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _error(errcode: int, errmsg: str) -> SimpleChatError:
    log.info("wechat.refused errcode=%s errmsg=%s", errcode, errmsg[:200])
    if errcode in (INVALID_CODE, CODE_USED):
        return WeChatCodeInvalid()
    if errcode == BUSY:
        return WeChatBusy()
    if errcode == TOO_FREQUENT:
        return wechat_rate_limited()
    return WeChatError(
        f"WeChat refused the login (errcode {errcode}: {errmsg[:200]}).",
        extra={"provider": "wechat", "errcode": errcode, "errmsg": errmsg[:200]},
    )
