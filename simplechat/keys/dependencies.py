"""The keys services and the chat routes' caller (the user, and the API key if one was sent).

The caller comes from accounts' one resolver (`CurrentPrincipal`): here it only gets the key's
type back (the `KeyGrant` the keys service made of it)."""

from typing import Annotated

from fastapi import Depends, Request

from simplechat.accounts.dependencies import CurrentPrincipal, TokenOrKeyUser
from simplechat.accounts.types import Principal
from simplechat.keys.service import KeyService, ProviderKeyService
from simplechat.keys.types import Caller, KeyGrant


async def get_key_service(request: Request) -> KeyService:
    service: KeyService = request.state.api_keys
    return service


async def get_provider_key_service(request: Request) -> ProviderKeyService:
    service: ProviderKeyService = request.state.provider_keys
    return service


KeyServiceDep = Annotated[KeyService, Depends(get_key_service)]
ProviderKeyServiceDep = Annotated[ProviderKeyService, Depends(get_provider_key_service)]


def caller_of(principal: Principal) -> Caller:
    key = principal.key
    assert key is None or isinstance(key, KeyGrant)  # the keys service resolves keys
    return Caller(user_id=principal.user_id, key=key, epoch=principal.epoch)


async def get_caller(principal: CurrentPrincipal) -> Caller:
    """The caller of a model: an access token's user and epoch (no database lookup: admission
    proves both), or a personal key's user and the key's caps (one lookup)."""
    return caller_of(principal)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


async def get_known_caller(principal: CurrentPrincipal, user: TokenOrKeyUser) -> Caller:
    """The caller, with its user read from the database (a deleted or disabled user, a revoked
    token: 401), for routes whose service does not admit the user itself (the model lists)."""
    return caller_of(principal)


KnownCaller = Annotated[Caller, Depends(get_known_caller)]
