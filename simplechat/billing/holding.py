"""Placing a hold: the one reservation loop behind a user's credits, a media request's and an
API key's budget. The hold's document is written first, so that if this worker dies after the
reservation the sweeper finds the hold by its age; a refused hold deletes it again."""

from collections.abc import Awaitable, Callable

from simplechat.billing.repository import CreditRepository
from simplechat.billing.types import Hold
from simplechat.kit.errors import ServerBusy

MAX_HOLD_ATTEMPTS = 8  # a lost race means the balance changed: read it and decide again

# Asked after a lost reservation, on freshly read state: the error to refuse with, or None to
# try again (the balance moved, or the account was opened just now).
ShortCheck = Callable[[], Awaitable[Exception | None]]


async def place_hold(
    credits: CreditRepository,
    hold: Hold,
    short: ShortCheck,
    *,
    busy: str = "Too many parallel requests for this account; try again.",
) -> Hold:
    """Reserve `hold.amount` on `hold.user_id`'s account in one conditional update, or raise
    what `short` says (a refusal is only ever decided on fresh state)."""
    await credits.insert_hold(hold)
    for _ in range(MAX_HOLD_ATTEMPTS):
        if await credits.reserve(hold.user_id, hold.id, hold.amount) is not None:
            return hold
        refusal = await short()
        if refusal is not None:
            await credits.delete_hold(hold.id)
            raise refusal
    await credits.delete_hold(hold.id)
    raise ServerBusy(busy)
