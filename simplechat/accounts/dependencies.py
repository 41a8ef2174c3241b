"""Who is calling: the accounts service and the caller, as Annotated aliases.

The Bearer token is an access token (a JWT), or a personal API key (`sk-sc-...`), which the
`KeyResolver` in the lifespan state (the keys capability's service) turns into its grant.
`get_principal` is the one place that tells them apart; the rest says what a route accepts:

- `CurrentUser`: an access token only. Every route that manages the account (profile,
  password, deletion, avatar, keys, provider keys, credit redemption) and every /admin route
  answers a personal key with 403 `key_not_allowed`, whoever owns the key: a key handed to a
  frontend can use models, never take over the account it belongs to. This is the default:
  a new route is closed to keys unless it asks for `TokenOrKeyUser`.
- `TokenOrKeyUser`: either; for the routes a key is for (conversations, tasks, reading usage).
- `CurrentPrincipal`: either, without reading the user (the chat routes: their admission
  proves the user, and the access token's epoch, in the update that admits the message).

An access token's epoch is compared wherever the user is read, so a revoked token (password
changed, logged out everywhere, disabled, role changed) is refused at once on every worker.
"""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from simplechat.accounts.service import AccountService
from simplechat.accounts.types import KeyResolver, Principal, User, is_api_key
from simplechat.kit.errors import Forbidden, KeyNotAllowed, NotAuthenticated

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


async def get_principal(
    accounts: AccountServiceDep, keys: KeyResolverDep, token: BearerToken
) -> Principal:
    """Who the Bearer token says is calling (an access token: no database lookup; a personal
    key: one, which also refuses a disabled, expired or deleted key)."""
    if not token:
        raise NotAuthenticated()
    if is_api_key(token):
        key = await keys.grant(token)
        return Principal(user_id=key.user_id, key=key)
    return accounts.principal(token)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_current_user(accounts: AccountServiceDep, token: BearerToken) -> User:
    """The user of an access token (a personal key: 403 key_not_allowed, without a lookup)."""
    if not token:
        raise NotAuthenticated()
    if is_api_key(token):
        raise KeyNotAllowed()
    principal = accounts.principal(token)
    return await accounts.user(principal.user_id, epoch=principal.epoch)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_token_or_key_user(principal: CurrentPrincipal, accounts: AccountServiceDep) -> User:
    """The user of an access token or of a personal key, read (gone or disabled: 401)."""
    return await accounts.user(principal.user_id, epoch=principal.epoch)


TokenOrKeyUser = Annotated[User, Depends(get_token_or_key_user)]


async def get_admin_user(user: CurrentUser) -> User:
    """The current user, who must be an admin (403 otherwise; a personal key, even an admin's:
    403 key_not_allowed)."""
    if not user.is_admin:
        raise Forbidden("This needs an admin account.")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]
