"""The caller's own history, as the API shows it."""

from dataclasses import dataclass

from simplechat.domain.users import User
from simplechat.errors import InvalidInput
from simplechat.storage.messages import HistoryEntry, MessageRepository


@dataclass(frozen=True, slots=True)
class HistoryService:
    messages: MessageRepository
    max_entries: int

    async def last(self, user: User, n: int) -> list[HistoryEntry]:
        if not 1 <= n <= self.max_entries:
            raise InvalidInput(f"last_n must be between 1 and {self.max_entries}.")
        return await self.messages.last_entries(owner_id=user.id, n=n)
