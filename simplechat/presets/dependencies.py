"""The presets service, as an Annotated alias."""

from typing import Annotated

from fastapi import Depends, Request

from simplechat.presets.service import PresetService


async def get_preset_service(request: Request) -> PresetService:
    service: PresetService = request.state.presets
    return service


PresetServiceDep = Annotated[PresetService, Depends(get_preset_service)]
