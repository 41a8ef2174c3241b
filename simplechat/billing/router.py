"""Credits, redeem codes and usage: the user's routes and the admins'."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from simplechat.accounts.dependencies import AdminUser, CurrentUser
from simplechat.billing.dependencies import BillingAdmin, BillingServiceDep, CodeServiceDep
from simplechat.billing.errors import (
    BalanceTooLow,
    CodeDisabled,
    CodeExpired,
    CodeNotFound,
    CodeUsed,
    CreditsDisabled,
    UserNotFound,
)
from simplechat.billing.rules import to_units
from simplechat.billing.schemas import (
    AdjustRequest,
    AdjustResponse,
    CodeCreate,
    CodePublic,
    CodesCreated,
    CreditsResponse,
    RedeemRequest,
    RedeemResponse,
    UsageResponse,
)
from simplechat.billing.types import Balance, CodeStatus
from simplechat.kit.errors import RateLimited
from simplechat.kit.http import error_responses
from simplechat.kit.iplimit import ip_limited
from simplechat.kit.pagination import Page, PageQuery

CodePath = Annotated[str, Path(max_length=100, description="The code (dashes optional)")]
UserIdPath = Annotated[str, Path(max_length=64, description="The user's id")]
_OFF = CreditsDisabled()
_CODE_404 = {404: [CodeNotFound(), _OFF]}
_CODE_409 = {409: [CodeUsed(), CodeDisabled()]}
_410 = {410: "The code has expired"}
_REDEEM_429 = RateLimited(
    "Too many redeem attempts: at most 10 failed attempts in 3600 seconds. Try again later.",
    limit_code="redeem_limit",
    retry_after=1800,
)
_EXAMPLE_TOO_LOW = BalanceTooLow(Balance("6b01b59ab1945f3903016ee2", 20_000, 0), 50_000)


# Redeeming is also limited per client address (SIMPLECHAT_REDEEM_IP_LIMIT), against guessing.
REDEEM_IP_LIMITER = "redeem_ip_limiter"
router = APIRouter()


@router.get(
    "/user/credits",
    tags=["credits"],
    response_model=CreditsResponse,
    summary="Your credits and their ledger",
    responses=error_responses(401, 404, 422, examples={404: [_OFF]}),
)
async def read_credits(
    user: CurrentUser, billing: BillingServiceDep, page: PageQuery
) -> CreditsResponse:
    """Your balance, what is held for messages being answered, and the ledger (newest first)."""
    return CreditsResponse.from_domain(await billing.credits(user.id, page))


@router.post(
    "/user/credits/redeem",
    tags=["credits"],
    dependencies=[Depends(ip_limited("redeem", limiter=REDEEM_IP_LIMITER))],
    response_model=RedeemResponse,
    summary="Redeem a code",
    responses=error_responses(
        401,
        404,
        409,
        410,
        413,
        422,
        429,
        examples={**_CODE_404, **_CODE_409, 410: [CodeExpired()], 429: [_REDEEM_429]},
        descriptions=_410,
    ),
)
async def redeem_code(
    body: RedeemRequest, user: CurrentUser, codes: CodeServiceDep
) -> RedeemResponse:
    """Add a redeem code's credits to your balance; each code works once."""
    redeemed = await codes.redeem(user_id=user.id, username=user.username, text=body.code)
    return RedeemResponse.from_domain(redeemed)


@router.get(
    "/user/usage",
    tags=["credits"],
    response_model=UsageResponse,
    summary="Your tokens and cost per day and per model",
    responses=error_responses(401, 422),
)
async def read_usage(
    user: CurrentUser,
    billing: BillingServiceDep,
    start: Annotated[date | None, Query(alias="from", description="First day")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (today)")] = None,
) -> UsageResponse:
    """Tokens and cost of your replies per day and per model, `from` to `to` inclusive."""
    return UsageResponse.from_domain(await billing.usage(user.id, start, end))


# --- admins ---
@router.get(
    "/admin/usage",
    tags=["admin"],
    response_model=UsageResponse,
    summary="Everyone's replies, tokens and cost per day and per model",
    responses=error_responses(401, 403, 422),
)
async def read_usage_of_everyone(
    admin: AdminUser,
    billing: BillingServiceDep,
    start: Annotated[date | None, Query(alias="from", description="First day")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (today)")] = None,
) -> UsageResponse:
    """`/user/usage` summed over every user: replies (speech and picture requests under their
    engine's name), tokens and cost per day and per model, `from` to `to` inclusive."""
    return UsageResponse.from_domain(await billing.usage_of_everyone(start, end))


@router.post(
    "/admin/codes",
    tags=["admin"],
    status_code=status.HTTP_201_CREATED,
    response_model=CodesCreated,
    summary="Create redeem codes",
    responses=error_responses(401, 403, 404, 413, 422, examples={404: [_OFF]}),
)
async def create_codes(
    body: CodeCreate, admin: BillingAdmin, codes: CodeServiceDep
) -> CodesCreated:
    """Make 1-100 random codes worth `credits` each, optionally expiring; shown once here."""
    made = await codes.create(
        credits=to_units(body.credits),
        count=body.count,
        expires=body.expires_at,
        note=body.note,
        by=admin,
    )
    return CodesCreated(codes=[CodePublic.from_domain(c) for c in made])


@router.get(
    "/admin/codes",
    tags=["admin"],
    response_model=Page[CodePublic],
    summary="List redeem codes",
    responses=error_responses(401, 403, 404, 422, examples={404: [_OFF]}),
)
async def list_codes(
    admin: AdminUser,
    codes: CodeServiceDep,
    page: PageQuery,
    code_status: Annotated[CodeStatus | None, Query(alias="status")] = None,
) -> Page[CodePublic]:
    """Codes newest first, all or by status, with who used each and when."""
    return Page.of(await codes.page(code_status, page), CodePublic.from_domain)


@router.get(
    "/admin/codes/{code}",
    tags=["admin"],
    response_model=CodePublic,
    summary="Look up a redeem code",
    responses=error_responses(401, 403, 404, 422, examples=_CODE_404),
)
async def read_code(code: CodePath, admin: AdminUser, codes: CodeServiceDep) -> CodePublic:
    """One code: its status, credits, expiry, and who used it and when."""
    return CodePublic.from_domain(await codes.get(code))


@router.delete(
    "/admin/codes/{code}",
    tags=["admin"],
    response_model=CodePublic,
    summary="Disable an unused redeem code",
    responses=error_responses(401, 403, 404, 409, 422, examples={**_CODE_404, 409: [CodeUsed()]}),
)
async def disable_code(code: CodePath, admin: BillingAdmin, codes: CodeServiceDep) -> CodePublic:
    """Disable an unused (or expired) code so it can never be redeemed; used ones stay."""
    return CodePublic.from_domain(await codes.disable(code, by=admin))


@router.get(
    "/admin/users/{user_id}/credits",
    tags=["admin"],
    response_model=CreditsResponse,
    summary="A user's credits and ledger",
    responses=error_responses(401, 403, 404, 422, examples={404: [UserNotFound(), _OFF]}),
)
async def read_user_credits(
    user_id: UserIdPath, admin: AdminUser, billing: BillingServiceDep, page: PageQuery
) -> CreditsResponse:
    """Any user's balance, holds and ledger, as they see them."""
    return CreditsResponse.from_domain(await billing.credits_of(user_id, page))


@router.post(
    "/admin/users/{user_id}/credits",
    tags=["admin"],
    response_model=AdjustResponse,
    summary="Adjust a user's credits",
    responses=error_responses(
        401,
        403,
        404,
        409,
        413,
        422,
        examples={404: [UserNotFound(), _OFF], 409: [_EXAMPLE_TOO_LOW]},
    ),
)
async def adjust_credits(
    user_id: UserIdPath, body: AdjustRequest, admin: BillingAdmin, billing: BillingServiceDep
) -> AdjustResponse:
    """Add credits to a user (or take some, never below zero available), with a reason."""
    balance = await billing.adjust(user_id, to_units(body.delta), reason=body.reason, by=admin)
    return AdjustResponse.from_domain(balance)
