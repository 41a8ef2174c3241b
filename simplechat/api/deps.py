"""FastAPI dependencies as Annotated aliases: what a route needs, read from the app context."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from simplechat.api.context import AppContext
from simplechat.domain.users import User
from simplechat.errors import NotAuthenticated

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)


async def get_context(request: Request) -> AppContext:
    context: AppContext = request.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


async def get_current_user(
    context: ContextDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    if not token:
        raise NotAuthenticated()
    return await context.auth.user_from_token(token)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_user_id(
    context: ContextDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> str:
    """The token's user id without a database lookup, for routes whose service checks the
    user itself (the chat routes: admission and the user check are one round trip)."""
    if not token:
        raise NotAuthenticated()
    return context.auth.user_id_from_token(token)


CurrentUserId = Annotated[str, Depends(get_current_user_id)]
