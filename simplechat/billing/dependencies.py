"""The billing and redeem-code services, as Annotated aliases."""

from typing import Annotated

from fastapi import Depends, Request

from simplechat.billing.codes import CodeService
from simplechat.billing.service import BillingService


async def get_billing_service(request: Request) -> BillingService:
    service: BillingService = request.state.billing
    return service


async def get_code_service(request: Request) -> CodeService:
    service: CodeService = request.state.redeem_codes
    return service


BillingServiceDep = Annotated[BillingService, Depends(get_billing_service)]
CodeServiceDep = Annotated[CodeService, Depends(get_code_service)]
