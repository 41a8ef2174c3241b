"""Accounts: sign up and log in (both limited per client IP), and who am I."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from slowapi import Limiter

from simplechat.accounts.dependencies import AccountServiceDep, CurrentUser
from simplechat.accounts.schemas import TokenResponse, UserCreate, UserPublic
from simplechat.kit.errors import InvalidCredentials
from simplechat.kit.http import error_responses


def build_router(limiter: Limiter, ip_limit: str) -> APIRouter:
    """The account routes, limited to `ip_limit` (e.g. "10/minute") per client IP."""
    router = APIRouter()

    @router.post(
        "/user/",
        tags=["accounts"],
        status_code=status.HTTP_201_CREATED,
        response_model=UserPublic,
        summary="Create an account",
        response_description="The new account",
        responses=error_responses(409, 413, 422, 429),
    )
    @limiter.limit(ip_limit)
    async def create_user(
        request: Request, body: UserCreate, accounts: AccountServiceDep
    ) -> UserPublic:
        """Create a user with a unique username and a password of at least 8 characters."""
        user = await accounts.sign_up(username=body.username, password=body.password)
        return UserPublic.from_domain(user)

    @router.post(
        "/token",
        tags=["accounts"],
        response_model=TokenResponse,
        summary="Log in (OAuth2 password flow)",
        response_description="A Bearer token for the Authorization header",
        responses=error_responses(
            401,
            422,
            429,
            examples={401: [InvalidCredentials()]},
            descriptions={401: "Wrong username or password"},
        ),
    )
    @limiter.limit(ip_limit)
    async def log_in(
        request: Request,
        form: Annotated[OAuth2PasswordRequestForm, Depends()],
        accounts: AccountServiceDep,
    ) -> TokenResponse:
        """Exchange a username and password (form fields) for a Bearer token.

        Swagger's **Authorize** button calls this for you and sends the token with every request.
        """
        token = await accounts.log_in(username=form.username, password=form.password)
        return TokenResponse(access_token=token)

    @router.get(
        "/user/me",
        response_model=UserPublic,
        summary="Who am I",
        tags=["user"],
        responses=error_responses(401),
    )
    async def read_me(user: CurrentUser) -> UserPublic:
        """Return the account the Bearer token belongs to (no secret fields)."""
        return UserPublic.from_domain(user)

    return router
