"""Accounts: sign up and log in (password or WeChat), tokens, the caller's own profile and
avatar (`AccountService`), and what admins do to other accounts (`UserDirectory`). Deleting
an account (either way) goes through `AccountRemoval` (removal.py).
"""

from simplechat.accounts.errors import (
    InvalidImage,
    InvalidRefreshToken,
    LastAdmin,
    NoPassword,
    WeChatNotConfigured,
)
from simplechat.accounts.images import AVATAR_MAX_BYTES, etag_of, make_avatar
from simplechat.accounts.passwords import Passwords
from simplechat.accounts.removal import AccountRemoval
from simplechat.accounts.repository.avatars import AvatarRepository
from simplechat.accounts.repository.roles import Removal, RoleRepository
from simplechat.accounts.repository.users import UserRepository
from simplechat.accounts.rules import (
    address_tag,
    display_name_problem,
    email_problem,
    password_problem,
    remembered,
    search_prefix_problem,
    username_problem,
)
from simplechat.accounts.sessions import Sessions
from simplechat.accounts.throttles import Throttles
from simplechat.accounts.types import (
    Avatar,
    OwnerDataRemover,
    Principal,
    ProfileChanges,
    Role,
    TokenPair,
    User,
    UserQuery,
)
from simplechat.accounts.wechat import WeChatClient
from simplechat.kit.errors import (
    Conflict,
    InvalidCredentials,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
)
from simplechat.kit.executors import BoundedExecutor
from simplechat.kit.pagination import Paged, PageParams

GONE = "The token's user no longer exists or is disabled."
REVOKED = (
    "The token was revoked (the password changed, a log out everywhere, or an admin's change "
    "to the account): log in again."
)


def _check(problem: str | None) -> None:
    if problem:
        raise InvalidInput(problem)


def _check_profile(changes: ProfileChanges) -> None:
    if "email" in changes.fields and changes.email is not None:
        _check(email_problem(changes.email))
    if "display_name" in changes.fields and changes.display_name is not None:
        _check(display_name_problem(changes.display_name))


class AccountService:
    def __init__(
        self,
        *,
        users: UserRepository,
        sessions: Sessions,
        passwords: Passwords,
        avatars: AvatarRepository,
        removal: AccountRemoval,
        wechat: WeChatClient | None,
        throttles: Throttles,
        decoder: BoundedExecutor,
        revoke_keys: OwnerDataRemover,
    ) -> None:
        self._users = users
        self._sessions = sessions
        self._passwords = passwords
        self._avatars = avatars
        self._removal = removal
        self._wechat = wechat
        self._throttles = throttles
        self._decoder = decoder
        self._revoke_keys = revoke_keys  # deletes every personal API key of a user

    # --- signing up and logging in ---
    async def sign_up(self, *, username: str, password: str) -> User:
        _check(username_problem(username) or password_problem(password))
        password_hash = await self._passwords.hash(password)
        return await self._users.create(username=username, password_hash=password_hash)

    async def log_in(self, *, username: str, password: str, address: str) -> TokenPair:
        """Tokens for a right password; from an address the account has not logged in from
        before, the attempt counts against the account's login throttle (throttles.py)."""
        found = await self._users.credentials_by_username(username)
        tag = address_tag(found.user.id, address) if found else None
        known = found is not None and tag in found.login_tags
        if not known:
            await self._throttles.login.hit("login", username)
        # checked even for an unknown user (against a dummy hash): the same time either way
        valid = await self._passwords.verify(password, found.password_hash if found else None)
        if found is None or tag is None or not valid:
            raise InvalidCredentials()
        if found.login_tags[-1:] != (tag,):
            await self._users.remember_login(found.user.id, remembered(found.login_tags, tag))
        return await self._sessions.start(found.user, epoch=found.epoch)

    async def log_in_wechat(self, code: str) -> TokenPair:
        """Log in with a WeChat mini-program login code; the first login creates the user."""
        if self._wechat is None:
            raise WeChatNotConfigured()
        identity = await self._wechat.identify(code)
        found = await self._users.wechat_user(identity.openid, identity.unionid)
        if found.user.disabled:
            raise NotAuthenticated("This account is disabled.")
        return await self._sessions.start(found.user, epoch=found.epoch)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """A new token pair for a refresh token, which stops working (see sessions.py)."""
        stored = await self._sessions.find(refresh_token)
        found = await self._users.credentials(stored.user_id)
        if found is None or found.epoch != stored.epoch:  # gone, disabled, or password changed
            await self._sessions.revoke_family(stored.family)
            raise InvalidRefreshToken("The refresh token was revoked: log in again.")
        return await self._sessions.rotate(refresh_token, stored, found.user)

    async def revoke(self, refresh_token: str, *, everywhere: bool = False) -> None:
        """Log out: the refresh token's login ends (unknown tokens are ignored); `everywhere`:
        every login of its user ends, and every access token issued before stops working."""
        if not everywhere:
            await self._sessions.revoke(refresh_token)
            return
        stored = await self._sessions.find_unused(refresh_token)
        if stored is not None:
            await self._log_out_everywhere(stored.user_id)

    async def log_out_everywhere(self, user: User) -> None:
        """Every refresh token of the user stops working, and every access token issued
        before this (this one too), on every worker."""
        await self._log_out_everywhere(user.id)

    async def _log_out_everywhere(self, user_id: str) -> None:
        await self._users.revoke_tokens(user_id)
        await self._sessions.revoke_user(user_id)

    # --- who a token is ---
    def principal(self, token: str) -> Principal:
        """The user id and token epoch of a valid access token, without a database lookup
        (the chat routes prove the user still exists, enabled, at that epoch, in the round trip
        that admits the message)."""
        return self._sessions.principal(token)

    async def user(self, user_id: str, *, epoch: int | None = None) -> User:
        """The user with this id (401 when gone or disabled, or when `epoch`, an access
        token's, is no longer the user's: the caller's credential is)."""
        found = await self._users.credentials(user_id)
        if found is None:
            raise NotAuthenticated(GONE)
        if epoch is not None and epoch != found.epoch:
            raise NotAuthenticated(REVOKED)
        return found.user

    # --- the caller's own account ---
    async def update_profile(self, user: User, changes: ProfileChanges) -> User:
        _check_profile(changes)
        updated = await self._users.update_profile(user.id, changes)
        if updated is None:
            raise NotAuthenticated(GONE)
        return updated

    async def change_password(
        self, user: User, *, old: str | None, new: str, revoke_keys: bool = False
    ) -> TokenPair:
        """Change the password (the old one is needed if there is one): every refresh token
        and every access token issued before stop working, and this client gets a new pair.
        Personal API keys keep working unless `revoke_keys` (then they are deleted)."""
        _check(password_problem(new))
        found = await self._users.credentials(user.id)
        if found is None:
            raise NotAuthenticated(GONE)
        if found.password_hash:
            await self._throttles.password.hit("password", user.id)
            if not await self._passwords.verify(old or "", found.password_hash):
                raise InvalidCredentials("The current password is not right.")
        epoch = await self._users.set_password(user.id, await self._passwords.hash(new))
        if epoch is None:
            raise NotAuthenticated(GONE)
        await self._sessions.revoke_user(user.id)
        if revoke_keys:
            await self._revoke_keys(user.id)
        return await self._sessions.start(found.user, epoch=epoch)

    async def delete_account(self, user: User, *, password: str) -> None:
        """Delete the caller's account and everything it owns (the password confirms it)."""
        found = await self._users.credentials(user.id)
        if found is None:
            raise NotAuthenticated(GONE)
        if not found.password_hash:
            raise NoPassword()
        await self._throttles.password.hit("password", user.id)
        if not await self._passwords.verify(password, found.password_hash):
            raise InvalidCredentials("The password is not right.")
        await self._removal.remove(found.user)

    async def set_avatar(self, user: User, upload: bytes) -> Avatar:
        if len(upload) > AVATAR_MAX_BYTES:
            raise PayloadTooLarge(f"Avatars are at most {AVATAR_MAX_BYTES // (1024 * 1024)} MB.")
        if not upload:
            raise InvalidImage("The upload is empty: send a JPEG, PNG, WebP or GIF.")
        await self._throttles.avatar.hit("avatar", user.id)  # before any decoding
        data = await self._decoder.run(make_avatar, upload)  # Pillow is CPU-bound
        avatar = Avatar(data, etag_of(data))
        await self._avatars.put(
            user_id=user.id, username=user.username, data=data, etag=avatar.etag
        )
        return avatar

    async def avatar(self, user: User) -> Avatar:
        found = await self._avatars.by_user_id(user.id)
        if found is None:
            raise NotFound("You have no avatar yet: PUT one to /user/me/avatar.")
        return found

    async def avatar_of(self, username: str) -> Avatar:
        found = await self._avatars.by_username(username)
        if found is None:
            raise NotFound(f"No avatar for '{username}'.")
        return found


class UserDirectory:
    """What admins do to accounts: find, create, change, promote, demote and delete them."""

    def __init__(
        self,
        *,
        users: UserRepository,
        roles: RoleRepository,
        sessions: Sessions,
        passwords: Passwords,
        removal: AccountRemoval,
    ) -> None:
        self._users = users
        self._roles = roles
        self._sessions = sessions
        self._passwords = passwords
        self._removal = removal

    def validate(self, *, password: str | None, profile: ProfileChanges) -> None:
        """Refuse bad values before anything is written (InvalidInput)."""
        if password is not None:
            _check(password_problem(password))
        _check_profile(profile)

    async def list(self, query: UserQuery, page: PageParams) -> Paged[User]:
        if query.prefix:
            _check(search_prefix_problem(query.prefix))
        found, total = await self._users.list(query, skip=page.skip, limit=page.limit)
        return Paged(found, total, page)

    async def get(self, username: str) -> User:
        user = await self._users.by_username(username)
        if user is None:
            raise NotFound(f"No user '{username}'.")
        return user

    async def create(
        self, *, username: str, password: str, role: Role, profile: ProfileChanges
    ) -> User:
        _check(username_problem(username) or password_problem(password))
        _check_profile(profile)
        user = await self._users.create(
            username=username,
            password_hash=await self._passwords.hash(password),
            email=profile.email,
            display_name=profile.display_name,
        )
        return await self.promote(user) if role is Role.ADMIN else user

    async def update_profile(self, user: User, changes: ProfileChanges) -> User:
        _check_profile(changes)
        return await self._users.update_profile(user.id, changes) or user

    async def reset_password(self, user: User, password: str) -> None:
        """Set a new password; every refresh token of the user stops working."""
        _check(password_problem(password))
        await self._users.set_password(user.id, await self._passwords.hash(password))
        await self._sessions.revoke_user(user.id)

    async def set_disabled(self, user: User, disabled: bool) -> None:
        """Disable (every token stops working) or enable a normal user."""
        if user.is_admin and not disabled:
            return  # admins are never disabled
        if user.is_admin:
            raise Conflict(f"'{user.username}' is an admin: demote them first.")
        if not await self._users.set_disabled(user.id, disabled):
            raise Conflict(f"'{user.username}' changed meanwhile; try again.")
        if disabled:
            await self._sessions.revoke_user(user.id)

    async def promote(self, user: User) -> User:
        if not user.is_admin and not await self._roles.promote(user.id):
            raise Conflict(f"'{user.username}' cannot be made an admin (disabled or deleted).")
        return await self.get(user.username)

    async def demote(self, user: User) -> User:
        if user.is_admin and await self._roles.demote(user.id) is Removal.LAST_ADMIN:
            raise LastAdmin(f"'{user.username}' is the last admin: promote someone else first.")
        return await self.get(user.username)

    async def delete(self, user: User) -> None:
        await self._removal.remove(user)

    async def admin_count(self) -> int:
        return await self._roles.admin_count()
