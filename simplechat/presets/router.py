"""Presets: prompts with model parameters, public (admins') or your own."""

from typing import Annotated

from fastapi import APIRouter, Path

from simplechat.accounts.dependencies import CurrentUser, TokenOrKeyUser
from simplechat.kit.http import error_responses
from simplechat.kit.pagination import Page, PageQuery
from simplechat.presets.dependencies import PresetServiceDep
from simplechat.presets.schemas import PresetCreate, PresetDeleted, PresetPublic, PresetUpdate

router = APIRouter(prefix="/presets", tags=["presets"])

PresetId = Annotated[
    str, Path(description="The preset's id", examples=["6b01b59ab1945f3903016ee2"])
]


@router.post(
    "",
    status_code=201,
    response_model=PresetPublic,
    summary="Create a preset",
    responses=error_responses(401, 403, 422, descriptions={403: "A public preset needs an admin"}),
)
async def create_preset(
    body: PresetCreate, user: CurrentUser, presets: PresetServiceDep
) -> PresetPublic:
    """Create a preset: your own, or (admins) a public one everybody can use."""
    return PresetPublic.from_domain(await presets.create(user, body.to_domain()), user.id)


@router.get(
    "",
    response_model=Page[PresetPublic],
    summary="List presets",
    responses=error_responses(401, 422),
)
async def list_presets(
    user: TokenOrKeyUser, presets: PresetServiceDep, page: PageQuery
) -> Page[PresetPublic]:
    """The public presets and your own, public first, paged."""
    found = await presets.list_visible(user, page)
    return Page.of(found, lambda preset: PresetPublic.from_domain(preset, user.id))


@router.get(
    "/{preset_id}",
    response_model=PresetPublic,
    summary="Read a preset",
    responses=error_responses(401, 404),
)
async def read_preset(
    preset_id: PresetId, user: TokenOrKeyUser, presets: PresetServiceDep
) -> PresetPublic:
    """A public preset or one of yours."""
    return PresetPublic.from_domain(await presets.get(user, preset_id), user.id)


@router.patch(
    "/{preset_id}",
    response_model=PresetPublic,
    summary="Change a preset",
    responses=error_responses(
        401,
        403,
        404,
        409,
        422,
        descriptions={403: "A public preset needs an admin", 409: "Built-in presets are read-only"},
    ),
)
async def update_preset(
    preset_id: PresetId, body: PresetUpdate, user: CurrentUser, presets: PresetServiceDep
) -> PresetPublic:
    """Change your preset (admins: a public one); conversations made from it keep their copy."""
    preset = await presets.update(
        user,
        preset_id,
        name=body.name,
        description=body.description,
        messages=None if body.messages is None else [m.to_domain() for m in body.messages],
        params=None if body.parameters is None else body.parameters.to_domain(),
    )
    return PresetPublic.from_domain(preset, user.id)


@router.delete(
    "/{preset_id}",
    response_model=PresetDeleted,
    summary="Delete a preset",
    responses=error_responses(
        401,
        403,
        404,
        409,
        descriptions={403: "A public preset needs an admin", 409: "Built-in presets are read-only"},
    ),
)
async def delete_preset(
    preset_id: PresetId, user: CurrentUser, presets: PresetServiceDep
) -> PresetDeleted:
    """Delete your preset (admins: a public one); conversations made from it keep their copy."""
    await presets.delete(user, preset_id)
    return PresetDeleted(id=preset_id)
