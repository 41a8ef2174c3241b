"""Who is calling: the accounts service and the current user, as Annotated aliases.

The Bearer token is an access token (a JWT), or a personal API key (`sk-sc-...`), which the
`KeyResolver` in the lifespan state (the keys capability's service) turns into its user."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from simplechat.accounts.service import AccountService
from simplechat.accounts.types import API_KEY_PREFIX, KeyResolver, User
from simplechat.kit.errors import Forbidden, NotAuthenticated

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)


async def get_account_service(request: Request) -> AccountService:
    service: AccountService = request.state.accounts
    return service


AccountServiceDep = Annotated[AccountService, Depends(get_account_service)]
BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


async def get_key_resolver(request: Request) -> KeyResolver:
    resolver: KeyResolver = request.state.api_keys
    return resolver


KeyResolverDep = Annotated[KeyResolver, Depends(get_key_resolver)]


async def get_current_user(
    accounts: AccountServiceDep, keys: KeyResolverDep, token: BearerToken
) -> User:
    if not token:
        raise NotAuthenticated()
    if token.startswith(API_KEY_PREFIX):
        return await accounts.user(await keys.user_id_for_key(token))
    return await accounts.user_from_token(token)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_user_id(
    accounts: AccountServiceDep, keys: KeyResolverDep, token: BearerToken
) -> str:
    """The token's user id without a database lookup, for routes whose service checks the
    user itself (the chat routes: admission and the user check are one round trip). A
    personal API key takes one lookup."""
    if not token:
        raise NotAuthenticated()
    if token.startswith(API_KEY_PREFIX):
        return await keys.user_id_for_key(token)
    return accounts.user_id_from_token(token)


CurrentUserId = Annotated[str, Depends(get_current_user_id)]


async def get_admin_user(user: CurrentUser) -> User:
    """The current user, who must be an admin (403 otherwise)."""
    if not user.is_admin:
        raise Forbidden("This needs an admin account.")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]
