"""Sign up and log in, both limited per client IP."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from slowapi import Limiter

from simplechat.api.deps import ContextDep
from simplechat.api.schemas import TokenResponse, UserCreate, UserPublic, error_responses


def build_router(limiter: Limiter, ip_limit: str) -> APIRouter:
    """The account routes, limited to `ip_limit` (e.g. "10/minute") per client IP."""
    router = APIRouter(tags=["accounts"])

    @router.post(
        "/user/",
        status_code=status.HTTP_201_CREATED,
        response_model=UserPublic,
        summary="Create an account",
        response_description="The new account",
        responses=error_responses(409, 413, 422, 429),
    )
    @limiter.limit(ip_limit)
    async def create_user(request: Request, body: UserCreate, context: ContextDep) -> UserPublic:
        """Create a user with a unique username and a password of at least 8 characters."""
        user = await context.auth.sign_up(username=body.username, password=body.password)
        return UserPublic.from_domain(user)

    @router.post(
        "/token",
        response_model=TokenResponse,
        summary="Log in (OAuth2 password flow)",
        response_description="A Bearer token for the Authorization header",
        responses=error_responses(
            401,
            422,
            429,
            codes={401: ("invalid_credentials",)},
            descriptions={401: "Wrong username or password"},
        ),
    )
    @limiter.limit(ip_limit)
    async def log_in(
        request: Request,
        form: Annotated[OAuth2PasswordRequestForm, Depends()],
        context: ContextDep,
    ) -> TokenResponse:
        """Exchange a username and password (form fields) for a Bearer token.

        Swagger's **Authorize** button calls this for you and sends the token with every request.
        """
        token = await context.auth.log_in(username=form.username, password=form.password)
        return TokenResponse(access_token=token)

    return router
