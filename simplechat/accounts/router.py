"""Accounts: sign up, log in (password or WeChat), refresh and revoke tokens. The
unauthenticated routes are limited per client IP (kit/iplimit.py)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from simplechat.accounts.dependencies import AccountServiceDep
from simplechat.accounts.errors import (
    InvalidRefreshToken,
    WeChatBusy,
    WeChatCodeInvalid,
    WeChatError,
    WeChatNotConfigured,
    WeChatTimeout,
    wechat_rate_limited,
)
from simplechat.accounts.schemas import (
    RefreshRequest,
    RevokeRequest,
    TokenResponse,
    UserCreate,
    UserPublic,
    WeChatLoginRequest,
)
from simplechat.accounts.throttles import LOGIN_429
from simplechat.kit.errors import InvalidCredentials
from simplechat.kit.http import ERROR_STATUSES, error_responses
from simplechat.kit.iplimit import client_address, ip_limited

router = APIRouter(tags=["accounts"])


@router.post(
    "/user/",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    summary="Create an account",
    response_description="The new account",
    responses=error_responses(409, 413, 422, 429),
    dependencies=[Depends(ip_limited("sign_up"))],
)
async def create_user(body: UserCreate, accounts: AccountServiceDep) -> UserPublic:
    """Create a user with a unique username and a password of at least 8 characters."""
    user = await accounts.sign_up(username=body.username, password=body.password)
    return UserPublic.from_domain(user)


@router.post(
    "/token",
    response_model=TokenResponse,
    summary="Log in (OAuth2 password flow)",
    response_description="An access token for the Authorization header, and a refresh token",
    responses=error_responses(
        401,
        422,
        429,
        examples={401: [InvalidCredentials()], 429: [*ERROR_STATUSES[429][1], LOGIN_429]},
        descriptions={
            401: "Wrong username or password",
            429: "Too many attempts from your address, or on this account from new places",
        },
    ),
    dependencies=[Depends(ip_limited("token"))],
)
async def log_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    accounts: AccountServiceDep,
) -> TokenResponse:
    """Exchange a username and password (form fields) for an access and a refresh token.

    Swagger's **Authorize** button calls this for you and sends the token with every request.
    """
    pair = await accounts.log_in(
        username=form.username, password=form.password, address=client_address(request)
    )
    return TokenResponse.from_domain(pair)


@router.post(
    "/token/refresh",
    response_model=TokenResponse,
    summary="Refresh the tokens",
    response_description="A new access token and a new refresh token",
    responses=error_responses(
        401,
        422,
        examples={401: [InvalidRefreshToken()]},
        descriptions={401: "The refresh token is not valid"},
    ),
)
async def refresh_tokens(body: RefreshRequest, accounts: AccountServiceDep) -> TokenResponse:
    """Exchange a refresh token (single use) for a new pair; using one twice logs out every
    token of that login."""
    return TokenResponse.from_domain(await accounts.refresh(body.refresh_token))


@router.post(
    "/token/revoke",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Log out",
    responses=error_responses(422),
)
async def revoke_token(body: RevokeRequest, accounts: AccountServiceDep) -> None:
    """Log out: revoke a refresh token and every token refreshed from the same login (the
    access tokens of that login last until they expire). With `everywhere`, every login of the
    account ends and every access token issued before stops working at once."""
    await accounts.revoke(body.refresh_token, everywhere=body.everywhere)


@router.post(
    "/token/wechat",
    response_model=TokenResponse,
    summary="Log in with WeChat (mini-program)",
    response_description="An access and a refresh token; the first login creates the user",
    responses=error_responses(
        401,
        422,
        429,
        502,
        503,
        504,
        examples={
            401: [WeChatCodeInvalid()],
            429: [wechat_rate_limited()],
            502: [WeChatError("WeChat refused the login (errcode 40226: user is blocked).")],
            503: [WeChatBusy(), WeChatNotConfigured()],
            504: [WeChatTimeout()],
        },
        descriptions={
            401: "WeChat refused the code",
            429: "Too many attempts (WeChat's, or ours per IP)",
            502: "WeChat refused the login for another reason",
            503: "WeChat is busy, or WeChat login is not configured",
        },
    ),
    dependencies=[Depends(ip_limited("wechat"))],
)
async def log_in_wechat(body: WeChatLoginRequest, accounts: AccountServiceDep) -> TokenResponse:
    """Exchange a WeChat mini-program login code (from `wx.login()`) for tokens."""
    return TokenResponse.from_domain(await accounts.log_in_wechat(body.code))
