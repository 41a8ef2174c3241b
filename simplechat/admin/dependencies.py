"""The admin service and the acting admin (with their address, for the audit log)."""

from typing import Annotated

from fastapi import Depends, Request

from simplechat.accounts.dependencies import AdminUser
from simplechat.admin.service import AdminService
from simplechat.admin.types import Actor
from simplechat.kit.iplimit import client_address


async def get_admin_service(request: Request) -> AdminService:
    service: AdminService = request.state.admin
    return service


AdminServiceDep = Annotated[AdminService, Depends(get_admin_service)]


async def get_actor(admin: AdminUser, request: Request) -> Actor:
    return Actor(id=admin.id, username=admin.username, ip=client_address(request))


CurrentAdmin = Annotated[Actor, Depends(get_actor)]
