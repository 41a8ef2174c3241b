"""The limits service, as an Annotated alias."""

from typing import Annotated

from fastapi import Depends, Request

from simplechat.limits.service import LimitService


async def get_limit_service(request: Request) -> LimitService:
    service: LimitService = request.state.limits
    return service


LimitServiceDep = Annotated[LimitService, Depends(get_limit_service)]
