"""The admin area (`/admin/...`): admins only (401 without a token, 403 for normal users)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from simplechat.accounts.dependencies import get_admin_user
from simplechat.accounts.types import Role, UserQuery, UserSort
from simplechat.admin.dependencies import AdminServiceDep, CurrentAdmin
from simplechat.admin.schemas import (
    AdminKeyUpdate,
    AdminKeyView,
    AdminUserCreate,
    AdminUserDetail,
    AdminUserUpdate,
    AdminUserView,
    AuditEntryView,
)
from simplechat.kit.errors import Conflict
from simplechat.kit.http import error_responses
from simplechat.kit.pagination import Page, PageQuery

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(get_admin_user)])

Username = Annotated[str, Path(examples=["eric"])]
LAST_ADMIN = {409: [Conflict("'alice' is the last admin: promote someone else first.")]}


@router.get(
    "/users",
    response_model=Page[AdminUserView],
    summary="List users",
    responses=error_responses(401, 403, 422),
)
async def admin_list_users(
    admins: AdminServiceDep,
    page: PageQuery,
    q: Annotated[str | None, Query(max_length=32, description="Username prefix")] = None,
    role: Role | None = None,
    disabled: bool | None = None,
    sort: UserSort = UserSort.CREATED_DESC,
) -> Page[AdminUserView]:
    """Page through users: search by the start of a username, filter by role or disabled,
    sort by creation or last activity (a leading '-' for newest first)."""
    query = UserQuery(prefix=q or None, role=role, disabled=disabled, sort=sort)
    return Page.of(await admins.list_users(query, page), AdminUserView.from_domain)


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=AdminUserDetail,
    summary="Create a user",
    responses=error_responses(401, 403, 409, 422),
)
async def admin_create_user(
    body: AdminUserCreate, admin: CurrentAdmin, admins: AdminServiceDep
) -> AdminUserDetail:
    """Create a user (or an admin) with a password."""
    return AdminUserDetail.from_detail(await admins.create_user(admin, body.to_domain()))


@router.get(
    "/users/{username}",
    response_model=AdminUserDetail,
    summary="One user, with their limits and figures",
    responses=error_responses(401, 403, 404),
)
async def admin_read_user(username: Username, admins: AdminServiceDep) -> AdminUserDetail:
    """The user, the limits that apply to them, and their messages, tokens and last activity."""
    return AdminUserDetail.from_detail(await admins.user(username))


@router.patch(
    "/users/{username}",
    response_model=AdminUserDetail,
    summary="Change a user",
    responses=error_responses(401, 403, 404, 409, 422, examples=LAST_ADMIN),
)
async def admin_update_user(
    username: Username, body: AdminUserUpdate, admin: CurrentAdmin, admins: AdminServiceDep
) -> AdminUserDetail:
    """Reset the password, change the email, display name or role, disable or enable, and
    set the user's own daily and burst limits and daily speech seconds and pictures (null: the
    configured ones apply)."""
    detail = await admins.update_user(admin, username, body.to_domain())
    return AdminUserDetail.from_detail(detail)


@router.delete(
    "/users/{username}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a user and their data",
    responses=error_responses(401, 403, 404, 409, examples=LAST_ADMIN),
)
async def admin_delete_user(
    username: Username, admin: CurrentAdmin, admins: AdminServiceDep
) -> None:
    """Delete the user and everything they own (history, avatar, tokens), for good."""
    await admins.delete_user(admin, username)


@router.get(
    "/admins",
    response_model=Page[AdminUserView],
    summary="List admins",
    responses=error_responses(401, 403, 422),
)
async def admin_list_admins(admins: AdminServiceDep, page: PageQuery) -> Page[AdminUserView]:
    """Every admin, by username."""
    return Page.of(await admins.list_admins(page), AdminUserView.from_domain)


@router.put(
    "/admins/{username}",
    response_model=AdminUserView,
    summary="Promote a user to admin",
    responses=error_responses(401, 403, 404, 409),
)
async def admin_promote(
    username: Username, admin: CurrentAdmin, admins: AdminServiceDep
) -> AdminUserView:
    """Make the user an admin (level 2)."""
    return AdminUserView.from_domain(await admins.promote(admin, username))


@router.delete(
    "/admins/{username}",
    response_model=AdminUserView,
    summary="Demote an admin",
    responses=error_responses(401, 403, 404, 409, examples=LAST_ADMIN),
)
async def admin_demote(
    username: Username, admin: CurrentAdmin, admins: AdminServiceDep
) -> AdminUserView:
    """Make the admin a normal user again; the last admin cannot be demoted."""
    return AdminUserView.from_domain(await admins.demote(admin, username))


@router.get(
    "/audit",
    response_model=Page[AuditEntryView],
    summary="The audit log",
    responses=error_responses(401, 403, 422),
)
async def admin_read_audit_log(admins: AdminServiceDep, page: PageQuery) -> Page[AuditEntryView]:
    """Every admin action, newest first: who, what, on whom, when and from which address."""
    return Page.of(await admins.audit_log(page), AuditEntryView.from_domain)


@router.get(
    "/keys",
    response_model=Page[AdminKeyView],
    summary="List API keys",
    responses=error_responses(401, 403, 404, 422),
)
async def admin_list_keys(
    admins: AdminServiceDep,
    page: PageQuery,
    username: Annotated[str | None, Query(max_length=32, description="One user's keys")] = None,
) -> Page[AdminKeyView]:
    """Every user's personal API keys, newest first (or one user's), paged."""
    return Page.of(await admins.list_keys(username, page), AdminKeyView.from_domain)


@router.patch(
    "/keys/{key_id}",
    response_model=AdminKeyView,
    summary="Disable or enable an API key",
    responses=error_responses(401, 403, 404, 422),
)
async def admin_update_key(
    key_id: Annotated[str, Path(examples=["6b01b59ab1945f3903016ee2"])],
    body: AdminKeyUpdate,
    admin: CurrentAdmin,
    admins: AdminServiceDep,
) -> AdminKeyView:
    """Disable (or enable again) any user's key; recorded in the audit log."""
    return AdminKeyView.from_domain(await admins.set_key_enabled(admin, key_id, body.enabled))
