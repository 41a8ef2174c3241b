"""Budgets (API keys' max_credits) on billing's holds: held whether or not credits are on,
settled to the real cost, released on failure and by the sweeper, moved by a cap change."""

import asyncio
from datetime import timedelta

import pytest

from simplechat.billing.budgets import Budgets
from simplechat.billing.errors import BudgetExhausted
from simplechat.billing.types import Balance
from simplechat.llm.types import Usage
from tests.billing.conftest import T0
from tests.billing.test_service import FREE, PRICED, service
from tests.factories import Clock

pytestmark = pytest.mark.usefixtures("database")

KEY = "key:6b01b59ab1945f3903016ee9"


async def state(budgets: Budgets, account: str = KEY) -> Balance | None:
    return (await budgets.read([account])).get(account)


async def test_held_with_credits_off_settled_to_the_real_cost() -> None:
    billing = service(enabled=False)
    budgets = billing.budgets
    await budgets.open(KEY, 25_000)
    held = await budgets.hold(
        KEY, 25_000, PRICED, prompt_tokens=50, max_output_tokens=1000, reference="m1"
    )
    assert held is not None
    assert held.amount == 10_000
    assert await state(budgets) == Balance(KEY, 15_000, 10_000)
    settled = await billing.settle(held, Usage(50, 400))
    assert settled.charged == 4_000
    assert await state(budgets) == Balance(KEY, 21_000, 0)
    again = await billing.settle(held, Usage(50, 400))
    assert not again.settled


async def test_over_the_cap_is_refused_and_nothing_is_held() -> None:
    billing = service(enabled=False)
    await billing.budgets.open(KEY, 9_999)
    with pytest.raises(BudgetExhausted) as refused:
        await billing.budgets.hold(
            KEY, 9_999, PRICED, prompt_tokens=0, max_output_tokens=1000, reference="m1"
        )
    assert refused.value.status_code == 402
    assert refused.value.error_code == "key_credit_limit"
    assert await state(billing.budgets) == Balance(KEY, 9_999, 0)


async def test_a_free_model_holds_nothing() -> None:
    billing = service(enabled=False)
    held = await billing.budgets.hold(
        KEY, 1, FREE, prompt_tokens=10, max_output_tokens=10, reference="m1"
    )
    assert held is None
    assert await state(billing.budgets) is None


async def test_a_budget_not_opened_yet_opens_at_its_first_hold() -> None:
    billing = service(enabled=False)
    held = await billing.budgets.hold(
        KEY, 30_000, PRICED, prompt_tokens=0, max_output_tokens=1000, reference="m1"
    )
    assert held is not None
    assert await state(billing.budgets) == Balance(KEY, 20_000, 10_000)


async def test_parallel_holds_never_pass_the_cap() -> None:
    billing = service(enabled=False)
    await billing.budgets.open(KEY, 30_000)

    async def one(n: int) -> bool:
        try:
            await billing.budgets.hold(
                KEY, 30_000, PRICED, prompt_tokens=0, max_output_tokens=1000, reference=f"m{n}"
            )
        except BudgetExhausted:
            return False
        return True

    results = await asyncio.gather(*(one(n) for n in range(10)))
    assert sum(results) == 3
    assert await state(billing.budgets) == Balance(KEY, 0, 30_000)


async def test_a_release_and_the_sweeper_give_the_hold_back() -> None:
    clock = Clock(T0)
    billing = service(clock, enabled=False, timeout=900)
    await billing.budgets.open(KEY, 30_000)
    first = await billing.budgets.hold(
        KEY, 30_000, PRICED, prompt_tokens=0, max_output_tokens=1000, reference="m1"
    )
    stale = await billing.budgets.hold(
        KEY, 30_000, PRICED, prompt_tokens=0, max_output_tokens=1000, reference="m2"
    )
    assert first is not None
    assert stale is not None
    assert await billing.release(first)
    assert await state(billing.budgets) == Balance(KEY, 20_000, 10_000)
    assert (await billing.sweep(T0 + timedelta(seconds=899))).holds_released == 0
    assert (await billing.sweep(T0 + timedelta(seconds=901))).holds_released == 1
    assert await state(billing.budgets) == Balance(KEY, 30_000, 0)


async def test_a_cap_change_moves_the_budget_and_close_forgets_it() -> None:
    billing = service(enabled=False)
    budgets = billing.budgets
    await budgets.open(KEY, 30_000)
    held = await budgets.hold(
        KEY, 30_000, PRICED, prompt_tokens=0, max_output_tokens=1000, reference="m1"
    )
    assert held is not None
    await billing.settle(held, Usage(0, 1000))  # 10,000 spent
    await asyncio.gather(budgets.change(KEY, -25_000), budgets.change(KEY, 5_000))
    assert await state(budgets) == Balance(KEY, 0, 0)  # cap 10,000: all of it spent
    await budgets.change(KEY, -5_000)  # cap 5,000, under what was spent: nothing left
    assert await state(budgets) == Balance(KEY, -5_000, 0)
    with pytest.raises(BudgetExhausted):
        await budgets.hold(KEY, 5_000, PRICED, prompt_tokens=0, max_output_tokens=1, reference="x")
    await budgets.close([KEY])
    assert await state(budgets) is None
