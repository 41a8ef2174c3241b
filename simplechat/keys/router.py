"""Your personal API keys (for frontends and SDKs) and your own provider keys."""

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from simplechat.accounts.dependencies import CurrentUser
from simplechat.keys.dependencies import KeyServiceDep, ProviderKeyServiceDep
from simplechat.keys.errors import KeyLockedByAdmin
from simplechat.keys.schemas import (
    KeyCreate,
    KeyCreated,
    KeyPublic,
    KeyUpdate,
    ProviderKeyList,
    ProviderKeyPublic,
    ProviderKeyPut,
)
from simplechat.keys.types import Provider
from simplechat.kit.errors import KeyNotAllowed
from simplechat.kit.http import error_responses

router = APIRouter(prefix="/user", tags=["keys"])

# A personal API key manages no keys, not even itself (403: see accounts/dependencies.py).
KEY_403 = {403: [KeyNotAllowed()]}
KEY_403_TEXT = {403: "A personal API key cannot manage keys: use an access token"}

KeyId = Annotated[str, Path(description="The key's id", examples=["6b01b59ab1945f3903016ee2"])]


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyCreated,
    summary="Create an API key",
    responses=error_responses(401, 403, 422, examples=KEY_403, descriptions=KEY_403_TEXT),
)
async def create_api_key(body: KeyCreate, user: CurrentUser, keys: KeyServiceDep) -> KeyCreated:
    """Create a personal API key (`sk-sc-...`); the answer shows it this once, never again."""
    return KeyCreated.from_created(await keys.create(user.id, body.name, body.to_domain()))


@router.get(
    "/keys",
    response_model=list[KeyPublic],
    summary="List your API keys",
    responses=error_responses(401, 403, examples=KEY_403, descriptions=KEY_403_TEXT),
)
async def list_api_keys(user: CurrentUser, keys: KeyServiceDep) -> list[KeyPublic]:
    """Your API keys, masked, with their caps, last use and use today."""
    return [KeyPublic.from_domain(key) for key in await keys.list(user.id)]


@router.patch(
    "/keys/{key_id}",
    response_model=KeyPublic,
    summary="Change an API key",
    responses=error_responses(
        401,
        403,
        404,
        422,
        examples={403: [KeyNotAllowed(), KeyLockedByAdmin()]},
        descriptions={403: "A personal API key, or enabling a key an admin disabled"},
    ),
)
async def update_api_key(
    key_id: KeyId, body: KeyUpdate, user: CurrentUser, keys: KeyServiceDep
) -> KeyPublic:
    """Rename, disable or enable a key, or change its caps (null clears one). A key an admin
    disabled stays disabled until an admin enables it."""
    return KeyPublic.from_domain(await keys.update(user.id, key_id, body.to_domain()))


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an API key",
    responses=error_responses(401, 403, 404, examples=KEY_403, descriptions=KEY_403_TEXT),
)
async def delete_api_key(key_id: KeyId, user: CurrentUser, keys: KeyServiceDep) -> Response:
    """Delete a key: it stops working at once."""
    await keys.delete(user.id, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/provider-keys/{provider}",
    response_model=ProviderKeyPublic,
    summary="Store your own provider key",
    responses=error_responses(401, 403, 422, examples=KEY_403, descriptions=KEY_403_TEXT),
)
async def put_provider_key(
    provider: Provider, body: ProviderKeyPut, user: CurrentUser, keys: ProviderKeyServiceDep
) -> ProviderKeyPublic:
    """Store (or replace) your own key for a provider; your calls to it then use your key."""
    return ProviderKeyPublic.from_domain(await keys.put(user.id, provider, body.api_key))


@router.get(
    "/provider-keys",
    response_model=ProviderKeyList,
    summary="List your provider keys",
    responses=error_responses(401, 403, examples=KEY_403, descriptions=KEY_403_TEXT),
)
async def list_provider_keys(user: CurrentUser, keys: ProviderKeyServiceDep) -> ProviderKeyList:
    """Which of your own provider keys are stored (their last 4 characters only)."""
    stored = await keys.list(user.id)
    return ProviderKeyList(
        byok=keys.mode.value, keys=[ProviderKeyPublic.from_domain(k) for k in stored]
    )


@router.delete(
    "/provider-keys/{provider}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove your provider key",
    responses=error_responses(401, 403, 404, 422, examples=KEY_403, descriptions=KEY_403_TEXT),
)
async def delete_provider_key(
    provider: Provider, user: CurrentUser, keys: ProviderKeyServiceDep
) -> Response:
    """Remove your own key for a provider; your calls to it use the server's key again."""
    await keys.delete(user.id, provider)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
