"""The billing and redeem-code services, and the acting admin, as Annotated aliases."""

from typing import Annotated

from fastapi import Depends, Request

from simplechat.accounts.dependencies import AdminUser
from simplechat.billing.codes import CodeService
from simplechat.billing.service import BillingService
from simplechat.billing.types import AdminActor
from simplechat.kit.iplimit import client_address


async def get_billing_service(request: Request) -> BillingService:
    service: BillingService = request.state.billing
    return service


async def get_code_service(request: Request) -> CodeService:
    service: CodeService = request.state.redeem_codes
    return service


BillingServiceDep = Annotated[BillingService, Depends(get_billing_service)]
CodeServiceDep = Annotated[CodeService, Depends(get_code_service)]


async def get_admin_actor(admin: AdminUser, request: Request) -> AdminActor:
    """The admin (403 for anyone else) and their address, as the audit log names them."""
    return AdminActor(id=admin.id, username=admin.username, ip=client_address(request))


BillingAdmin = Annotated[AdminActor, Depends(get_admin_actor)]
