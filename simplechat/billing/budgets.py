"""Budgets: spending caps kept as credit accounts of their own (a personal API key's
`max_credits`, account `key:<key id>`), so that billing's holds cap them atomically.

A budget's account holds `available` = its cap minus what was spent and what is on hold. A
turn holds its worst case on it (whether or not SIMPLECHAT_CREDITS is on: the cap is the
key's own), settled to the real cost with `BillingService.settle` and released with
`BillingService.release`, like a user's hold; the sweeper releases holds a dead worker left.
"""

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from simplechat.billing.errors import BudgetExhausted
from simplechat.billing.holding import place_hold
from simplechat.billing.repository import BudgetRepository, CreditRepository
from simplechat.billing.rules import cost_units, to_ms
from simplechat.billing.types import Balance, Hold
from simplechat.llm.pricing import Price
from simplechat.llm.types import ModelSpec


class Budgets:
    def __init__(
        self,
        *,
        credits: CreditRepository,
        repo: BudgetRepository | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._credits = credits
        self._repo = repo or BudgetRepository()
        self._clock = clock

    async def open(self, account_id: str, cap: int) -> None:
        """A budget of `cap` units, nothing spent (a budget left from before is replaced)."""
        await self._credits.delete_owner(account_id)
        await self._credits.create(account_id, available=cap, journal=[])

    async def change(self, account_id: str, delta: int) -> None:
        """The cap moved by `delta` (one update; a budget not opened yet opens at its first
        hold, with the cap then current)."""
        await self._repo.change(account_id, delta)

    async def close(self, account_ids: Sequence[str]) -> None:
        """Forget budgets: their accounts, ledgers and holds."""
        for account_id in account_ids:
            await self._credits.delete_owner(account_id)

    async def read(self, account_ids: Sequence[str]) -> dict[str, Balance]:
        """The budgets that exist among `account_ids` (one query)."""
        return await self._repo.find_many(account_ids)

    async def hold(
        self,
        account_id: str,
        cap: int,
        model: ModelSpec,
        *,
        prompt_tokens: int,
        max_output_tokens: int,
        reference: str,
    ) -> Hold | None:
        """Hold a turn's worst case on the budget, or raise BudgetExhausted (402). None: a free
        model. A budget that does not exist yet is opened with `cap`."""
        amount = cost_units(model.price, prompt_tokens, max_output_tokens)
        if model.price is None or amount <= 0:
            return None
        return await self.hold_units(
            account_id, cap, amount, label=model.name, reference=reference, price=model.price
        )

    async def hold_units(
        self,
        account_id: str,
        cap: int,
        amount: int,
        *,
        label: str,
        reference: str,
        price: Price | None = None,
        what: str = "this message",
    ) -> Hold | None:
        """Hold `amount` units on the budget (a media request's price; `label`: its engine),
        or raise BudgetExhausted (402). None: nothing to hold."""
        if amount <= 0:
            return None
        hold = Hold(
            uuid.uuid4().hex, account_id, label, price, amount, reference, to_ms(self._clock())
        )

        async def short() -> Exception | None:  # after a lost reservation, on fresh state
            account = await self._credits.find(account_id)
            if account is None:  # not opened yet: open it at the cap, and reserve again
                await self._credits.create(account_id, available=cap, journal=[])
                return None
            if account.balance.available < amount:
                return BudgetExhausted(account.balance.available, amount, what)
            return None

        busy = "Too many parallel requests for this API key; try again."
        return await place_hold(self._credits, hold, short, busy=busy)
