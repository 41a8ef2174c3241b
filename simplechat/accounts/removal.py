"""AccountRemoval: deleting an account and everything it owns.

Accounts' own data goes first (refresh tokens, avatar), then each capability's through the
`OwnerDataRemover`s that `wiring` hands in, then the user. The account is retired (disabled,
and demoted if it was an admin, never the last one) before anything is removed, so nothing new
is stored for it meanwhile, and a deletion cut short by an outage can simply be run again.
"""

from collections.abc import Sequence

from simplechat.accounts.errors import LastAdmin
from simplechat.accounts.repository.avatars import AvatarRepository
from simplechat.accounts.repository.roles import Removal, RoleRepository
from simplechat.accounts.repository.users import UserRepository
from simplechat.accounts.sessions import Sessions
from simplechat.accounts.types import OwnerDataRemover, User


class AccountRemoval:
    """Removes an account and everything it owns (see the module docstring)."""

    def __init__(
        self,
        *,
        users: UserRepository,
        roles: RoleRepository,
        sessions: Sessions,
        avatars: AvatarRepository,
        owner_data: Sequence[OwnerDataRemover],
    ) -> None:
        self._users = users
        self._roles = roles
        self._sessions = sessions
        self._avatars = avatars
        self._owner_data = tuple(owner_data)

    async def remove(self, user: User) -> None:
        if not await self._users.retire(user.id):  # not a normal user: an admin, or gone
            removal = await self._roles.retire(user.id)
            if removal is Removal.LAST_ADMIN:
                raise LastAdmin(f"'{user.username}' is the last admin: promote someone else first.")
        await self._sessions.revoke_user(user.id)
        await self._avatars.delete(user.id)
        for remove_owner_data in self._owner_data:
            await remove_owner_data(user.id)
        await self._users.delete_retired(user.id)
