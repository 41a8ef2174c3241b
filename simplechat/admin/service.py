"""The admin area: users (list, look at, create, change, delete), admins (promote, demote),
and the audit log of every admin action.

Accounts do the work on accounts (`UserDirectory`), limits hold the per-user limits, media the
per-user speech and picture quotas, reports give the figures; this service puts them together
for one admin action and records it.

Billing's admin actions (codes, credit adjustments) sit below this package, so billing cannot
call it: `AuditLog.record_billing` is handed to billing's services by `wiring` as a callable
(`billing.types.AuditRecorder`), and records them in the same log.
"""

import asyncio
from datetime import UTC, datetime
from typing import Any

from simplechat.accounts.service import UserDirectory
from simplechat.accounts.types import ProfileChanges, Role, User, UserQuery, UserSort
from simplechat.admin.repository import AuditRepository
from simplechat.admin.types import COMMAND_LINE, Actor, AuditEntry, NewUser, UserChanges, UserDetail
from simplechat.billing.types import AdminAction
from simplechat.keys.service import KeyService
from simplechat.keys.types import ApiKey, KeyChanges
from simplechat.kit.pagination import Paged, PageParams
from simplechat.limits.service import LimitService
from simplechat.media.service import MediaService
from simplechat.reports.service import ReportService

_PROFILE_FIELDS = frozenset({"email", "display_name"})
_LIMIT_FIELDS = {"daily_limit": "daily", "burst_limit": "burst"}
_MEDIA_FIELDS = frozenset({"speech_seconds_daily", "pictures_daily"})


def _profile(changes: UserChanges) -> ProfileChanges:
    return ProfileChanges(
        email=changes.email,
        display_name=changes.display_name,
        fields=changes.fields & _PROFILE_FIELDS,
    )


def _audit_details(changes: UserChanges) -> dict[str, Any]:
    """What changed, never a password."""
    return {
        name: "(reset)" if name == "password" else getattr(changes, name)
        for name in sorted(changes.fields)
    }


class AuditLog:
    """The audit log: every admin action, whoever performs it."""

    def __init__(self, repo: AuditRepository) -> None:
        self._repo = repo

    async def record(
        self, actor: Actor, action: str, user: User | None, details: dict[str, Any]
    ) -> None:
        await self._repo.record(
            actor=actor,
            action=action,
            target=user.username if user else None,
            target_id=user.id if user else None,
            details=details,
        )

    async def record_target(
        self,
        actor: Actor,
        action: str,
        *,
        target: str | None,
        target_id: str | None,
        details: dict[str, Any],
    ) -> None:
        """An action on something other than a user (a key, say)."""
        await self._repo.record(
            actor=actor, action=action, target=target, target_id=target_id, details=details
        )

    async def record_billing(self, action: AdminAction) -> None:
        """An admin action billing performed (the `AuditRecorder` wiring hands it)."""
        by = action.actor
        await self._repo.record(
            actor=Actor(id=by.id, username=by.username, ip=by.ip),
            action=action.action,
            target=action.target,
            target_id=action.target_id,
            details=action.details,
        )

    async def page(self, page: PageParams) -> Paged[AuditEntry]:
        entries, total = await self._repo.page(skip=page.skip, limit=page.limit)
        return Paged(entries, total, page)


class AdminService:
    def __init__(
        self,
        *,
        directory: UserDirectory,
        limits: LimitService,
        reports: ReportService,
        media: MediaService,
        audit: AuditLog,
        keys: KeyService,
    ) -> None:
        self._directory = directory
        self._limits = limits
        self._media = media
        self._reports = reports
        self._audit = audit
        self._keys = keys

    # --- reading ---
    async def list_users(self, query: UserQuery, page: PageParams) -> Paged[User]:
        return await self._directory.list(query, page)

    async def list_admins(self, page: PageParams) -> Paged[User]:
        return await self._directory.list(UserQuery(role=Role.ADMIN, sort=UserSort.USERNAME), page)

    async def user(self, username: str) -> UserDetail:
        return await self._detail(await self._directory.get(username))

    async def audit_log(self, page: PageParams) -> Paged[AuditEntry]:
        return await self._audit.page(page)

    # --- changing ---
    async def create_user(self, actor: Actor, new: NewUser) -> UserDetail:
        user = await self._directory.create(
            username=new.username,
            password=new.password,
            role=new.role,
            profile=ProfileChanges(new.email, new.display_name, _PROFILE_FIELDS),
        )
        details = {"role": user.role, "email": user.email, "display_name": user.display_name}
        await self._record(actor, "user.create", user, details)
        return await self._detail(user)

    async def update_user(self, actor: Actor, username: str, changes: UserChanges) -> UserDetail:
        """Apply every change named in `changes.fields` (all are checked before any is made)."""
        user = await self._directory.get(username)
        self._directory.validate(
            password=changes.password if "password" in changes.fields else None,
            profile=_profile(changes),
        )
        self._limits.validate_overrides(daily=changes.daily_limit, burst=changes.burst_limit)
        self._media.validate_overrides(changes.speech_seconds_daily, changes.pictures_daily)
        if changes.password is not None and "password" in changes.fields:
            await self._directory.reset_password(user, changes.password)
        if changes.fields & _PROFILE_FIELDS:
            user = await self._directory.update_profile(user, _profile(changes))
        disabled = changes.disabled if "disabled" in changes.fields else None
        if disabled is False:  # enable before a promotion (only enabled users are promoted)
            await self._directory.set_disabled(user, False)
        if "role" in changes.fields and changes.role is not None:
            user = await self._set_role(user, changes.role)
        if disabled:  # disable after a demotion (admins are never disabled)
            await self._directory.set_disabled(user, True)
        which = frozenset(_LIMIT_FIELDS[name] for name in changes.fields & _LIMIT_FIELDS.keys())
        if which:
            await self._limits.set_overrides(
                user.id, daily=changes.daily_limit, burst=changes.burst_limit, which=which
            )
        await self._set_media_quotas(user, changes)
        if changes.fields:
            await self._record(actor, "user.update", user, _audit_details(changes))
        return await self._detail(await self._directory.get(username))

    async def delete_user(self, actor: Actor, username: str) -> None:
        user = await self._directory.get(username)
        await self._directory.delete(user)
        await self._record(actor, "user.delete", user, {})

    async def promote(self, actor: Actor, username: str) -> User:
        user = await self._directory.get(username)
        if user.is_admin:
            return user
        promoted = await self._directory.promote(user)
        await self._record(actor, "admin.promote", promoted, {})
        return promoted

    async def demote(self, actor: Actor, username: str) -> User:
        user = await self._directory.get(username)
        if not user.is_admin:
            return user
        demoted = await self._directory.demote(user)
        await self._record(actor, "admin.demote", demoted, {})
        return demoted

    # --- the command line (`simplechat admin ...`) ---
    async def create_admin(self, *, username: str, password: str) -> User:
        detail = await self.create_user(COMMAND_LINE, NewUser(username, password, Role.ADMIN))
        return detail.user

    async def _set_media_quotas(self, user: User, changes: UserChanges) -> None:
        which = changes.fields & _MEDIA_FIELDS
        if which:
            await self._media.set_overrides(
                user.id,
                speech_seconds_daily=changes.speech_seconds_daily,
                pictures_daily=changes.pictures_daily,
                now=datetime.now(UTC),
                which=which,
            )

    async def _set_role(self, user: User, role: Role) -> User:
        if role is Role.ADMIN:
            return await self._directory.promote(user)
        return await self._directory.demote(user)

    async def _detail(self, user: User) -> UserDetail:
        now = datetime.now(UTC)
        limits, figures, media, overrides = await asyncio.gather(
            self._limits.overview(user.id, now),
            self._reports.figures(user.id),
            self._media.quota(user.id, now),
            self._media.overrides(user.id),
        )
        return UserDetail(
            user=user, limits=limits, figures=figures, media=media, media_overrides=overrides
        )

    # --- personal API keys ---
    async def list_keys(self, username: str | None, page: PageParams) -> Paged[ApiKey]:
        """Every key (newest first), or one user's."""
        user_id = None if username is None else (await self._directory.get(username)).id
        return await self._keys.page(user_id, page)

    async def set_key_enabled(self, actor: Actor, key_id: str, enabled: bool) -> ApiKey:
        """Disable (or enable again) any user's key, and record it."""
        changes = KeyChanges(enabled=enabled, fields=frozenset({"enabled"}))
        key = await self._keys.update(None, key_id, changes)
        await self._audit.record_target(
            actor,
            "key.enable" if enabled else "key.disable",
            target=key.prefix,
            target_id=key.id,
            details={"user_id": key.user_id, "name": key.name},
        )
        return key

    async def _record(self, actor: Actor, action: str, user: User, details: dict[str, Any]) -> None:
        await self._audit.record(actor, action, user, details)
