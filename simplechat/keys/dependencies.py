"""The keys services and the chat routes' caller (the user, and the API key if one was sent)."""

from typing import Annotated

from fastapi import Depends, Request

from simplechat.accounts.dependencies import AccountServiceDep, BearerToken
from simplechat.accounts.types import API_KEY_PREFIX
from simplechat.keys.service import KeyService, ProviderKeyService
from simplechat.keys.types import Caller
from simplechat.kit.errors import NotAuthenticated


async def get_key_service(request: Request) -> KeyService:
    service: KeyService = request.state.api_keys
    return service


async def get_provider_key_service(request: Request) -> ProviderKeyService:
    service: ProviderKeyService = request.state.provider_keys
    return service


KeyServiceDep = Annotated[KeyService, Depends(get_key_service)]
ProviderKeyServiceDep = Annotated[ProviderKeyService, Depends(get_provider_key_service)]


async def get_caller(
    accounts: AccountServiceDep, keys: KeyServiceDep, token: BearerToken
) -> Caller:
    """The caller of a model: an access token's user (no database lookup: admission proves
    the user), or a personal key's user and the key's caps (one lookup)."""
    if not token:
        raise NotAuthenticated()
    if token.startswith(API_KEY_PREFIX):
        grant = await keys.grant(token)
        return Caller(user_id=grant.user_id, key=grant)
    return Caller(user_id=accounts.user_id_from_token(token))


CurrentCaller = Annotated[Caller, Depends(get_caller)]


async def get_known_caller(
    accounts: AccountServiceDep, keys: KeyServiceDep, token: BearerToken
) -> Caller:
    """The caller, with its user read from the database (a deleted or disabled user: 401),
    for routes whose service does not admit the user itself (the model lists)."""
    if not token:
        raise NotAuthenticated()
    if token.startswith(API_KEY_PREFIX):
        grant = await keys.grant(token)
        return Caller(user_id=(await accounts.user(grant.user_id)).id, key=grant)
    return Caller(user_id=(await accounts.user_from_token(token)).id)


KnownCaller = Annotated[Caller, Depends(get_known_caller)]
