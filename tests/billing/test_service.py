"""BillingService against the real test database: balances, holds, the ledger, the sweeper,
usage. Time is passed in (a hand-moved clock), never slept."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from pymongo import AsyncMongoClient

from simplechat.billing.errors import BalanceTooLow, CreditsDisabled, InsufficientCredits
from simplechat.billing.repository import CreditRepository
from simplechat.billing.service import BillingService
from simplechat.billing.types import Balance, EntryKind, Hold, LedgerEntry
from simplechat.kit.errors import InvalidInput
from simplechat.kit.pagination import PageParams
from simplechat.llm.pricing import Price
from simplechat.llm.types import ModelSpec, Usage
from tests.billing.conftest import ADMIN, OTHER, T0, USER
from tests.factories import Clock, billing_services

pytestmark = pytest.mark.usefixtures("database")

# Output at 1 credit per 1,000 tokens, prompts free: a hold is exactly max_output / 1000.
PRICED = ModelSpec("priced", "mock", "mock", 8192, 1024, price=Price.simple(Decimal(0), Decimal(1)))
FREE = ModelSpec("free", "mock", "mock", 8192, 1024)
EVERYTHING = PageParams(page=1, page_size=100)


def service(
    clock: Clock | None = None, *, signup: str = "0", enabled: bool = True, timeout: int = 900
) -> BillingService:
    clock = clock or Clock(T0, tick=timedelta(milliseconds=1))
    return billing_services(clock, enabled=enabled, signup=signup, hold_timeout=timeout).service


async def ledger(billing: BillingService, user_id: str = USER) -> list[LedgerEntry]:
    return list((await billing.credits(user_id, EVERYTHING)).ledger.items)


async def assert_ledger_explains_balance(billing: BillingService, user_id: str = USER) -> None:
    balance = await billing.balance(user_id)
    entries = await ledger(billing, user_id)
    assert sum(e.delta for e in entries) == balance.balance
    assert balance.available >= 0
    assert balance.on_hold >= 0


async def hold(billing: BillingService, max_output: int = 1000, ref: str = "m1") -> Hold | None:
    return await billing.hold(
        USER, PRICED, prompt_tokens=50, max_output_tokens=max_output, reference=ref
    )


class TestBalances:
    async def test_signup_credits_once_however_many_first_visits(self) -> None:
        billing = service(signup="10")
        balances = await asyncio.gather(*(billing.balance(USER) for _ in range(20)))
        assert {b.balance for b in balances} == {100_000}
        entries = await ledger(billing)
        assert [(e.kind, e.delta, e.key) for e in entries] == [
            (EntryKind.SIGNUP, 100_000, f"signup:{USER}")
        ]

    async def test_no_signup_credits_no_entry(self) -> None:
        billing = service()
        assert await billing.balance(USER) == Balance(USER, 0, 0)
        assert await ledger(billing) == []

    async def test_admin_adjustments_and_the_floor(self) -> None:
        clock = Clock(T0)
        billing = service(clock, signup="1")
        await billing.balance(USER)
        clock.advance(seconds=1)
        assert (await billing.adjust(USER, 50_000, reason="gift", by=ADMIN)).balance == 60_000
        clock.advance(seconds=1)
        assert (await billing.adjust(USER, -20_000, reason="oops", by=ADMIN)).balance == 40_000
        with pytest.raises(BalanceTooLow) as refused:
            await billing.adjust(USER, -40_001, reason="too much", by=ADMIN)
        assert refused.value.extra["available"] == "4.0000"
        clock.advance(seconds=1)
        assert (await billing.adjust(USER, -40_000, reason="all", by=ADMIN)).balance == 0
        entries = await ledger(billing)
        assert [(e.kind, e.delta, e.note) for e in entries[:3]] == [
            (EntryKind.ADMIN, -40_000, "all"),
            (EntryKind.ADMIN, -20_000, "oops"),
            (EntryKind.ADMIN, 50_000, "gift"),
        ]
        assert entries[0].by == ADMIN.id
        await assert_ledger_explains_balance(billing)

    async def test_parallel_debits_never_overdraw(self) -> None:
        billing = service(signup="2.5")  # 25 debits of 0.1

        async def debit() -> bool:
            try:
                await billing.adjust(USER, -1000, reason="parallel", by=ADMIN)
            except BalanceTooLow:
                return False
            return True

        results = await asyncio.gather(*(debit() for _ in range(40)))
        assert sum(results) == 25
        assert (await billing.balance(USER)).balance == 0
        await assert_ledger_explains_balance(billing)

    async def test_unknown_users_and_credits_off(self) -> None:
        billing = service()
        with pytest.raises(Exception, match="No such user"):
            await billing.adjust("6b01b59ab1945f3903016eff", 1, reason="x", by=ADMIN)
        with pytest.raises(Exception, match="No such user"):
            await billing.credits_of("not-an-id", EVERYTHING)
        off = service(enabled=False)
        with pytest.raises(CreditsDisabled):
            await off.credits(USER, EVERYTHING)
        with pytest.raises(CreditsDisabled):
            await off.adjust(USER, 1, reason="x", by=ADMIN)

    async def test_ledger_pages_newest_first(self) -> None:
        clock = Clock(T0)
        billing = service(clock)
        for n in range(1, 6):
            clock.advance(seconds=1)
            await billing.adjust(USER, n, reason=f"#{n}", by=ADMIN)
        page = (await billing.credits(USER, PageParams(page=2, page_size=2))).ledger
        assert page.total == 5
        assert [e.note for e in page.items] == ["#3", "#2"]


class TestHolds:
    async def test_a_balance_for_exactly_seven_holds_admits_seven_of_fifty(self) -> None:
        billing = service(signup="7")  # each hold: 1000 output tokens at 1/1000 = 1 credit

        async def attempt(n: int) -> bool:
            try:
                await hold(billing, ref=f"m{n}")
            except InsufficientCredits:
                return False
            return True

        results = await asyncio.gather(*(attempt(n) for n in range(50)))
        assert sum(results) == 7
        assert await billing.balance(USER) == Balance(USER, 0, 70_000)

    async def test_short_balance_says_what_is_needed(self) -> None:
        billing = service(signup="0.5")
        with pytest.raises(InsufficientCredits) as refused:
            await hold(billing)
        error = refused.value
        assert error.status_code == 402
        assert error.extra == {
            "balance": "0.5000",
            "available": "0.5000",
            "on_hold": "0.0000",
            "needed": "1.0000",
        }
        assert await billing.balance(USER) == Balance(USER, 5000, 0)

    async def test_settle_charges_the_real_cost_and_releases_the_rest(self) -> None:
        billing = service(signup="5")
        held = await hold(billing)
        assert held is not None
        assert held.amount == 10_000
        assert await billing.balance(USER) == Balance(USER, 40_000, 10_000)
        settled = await billing.settle(held, Usage(prompt_tokens=50, completion_tokens=250))
        assert (settled.settled, settled.cost, settled.charged) == (True, 2500, 2500)
        assert await billing.balance(USER) == Balance(USER, 47_500, 0)
        charge = (await ledger(billing))[0]
        assert (charge.kind, charge.delta, charge.key) == (
            EntryKind.CHARGE,
            -2500,
            f"charge:{held.id}",
        )
        assert charge.reference == "m1"
        assert charge.note == "priced: 50 prompt + 250 output tokens"
        await assert_ledger_explains_balance(billing)

    async def test_a_settle_attempted_twice_charges_once(self) -> None:
        billing = service(signup="5")
        held = await hold(billing)
        assert held is not None
        usage = Usage(50, 400)
        first = await billing.settle(held, usage)
        again = await billing.settle(held, usage)
        racing = await asyncio.gather(*(billing.settle(held, usage) for _ in range(10)))
        assert first.settled
        assert not again.settled
        assert again.charged == 0
        assert not any(s.settled for s in racing)
        assert await billing.balance(USER) == Balance(USER, 46_000, 0)
        assert [e.kind for e in await ledger(billing)] == [EntryKind.CHARGE, EntryKind.SIGNUP]

    async def test_parallel_settles_and_releases_close_a_hold_once(self) -> None:
        billing = service(signup="5")
        held = await hold(billing)
        assert held is not None
        outcomes = await asyncio.gather(
            *(billing.settle(held, Usage(50, 300)) for _ in range(5)),
            *(billing.release(held) for _ in range(5)),
        )
        winners = [o for o in outcomes if o is True or getattr(o, "settled", False)]
        assert len(winners) == 1
        balance = await billing.balance(USER)
        assert balance.on_hold == 0
        assert balance.balance in (50_000, 47_000)  # released whole, or charged 0.3 once
        await assert_ledger_explains_balance(billing)

    async def test_release_gives_everything_back_and_only_once(self) -> None:
        billing = service(signup="5")
        held = await hold(billing)
        assert await billing.release(held) is True
        assert await billing.release(held) is False
        assert await billing.release(None) is False
        assert await billing.balance(USER) == Balance(USER, 50_000, 0)
        assert held is not None
        assert not (await billing.settle(held, Usage(1, 1))).settled  # too late to charge

    async def test_the_charge_is_capped_at_the_hold(self) -> None:
        billing = service(signup="5")
        held = await hold(billing, max_output=100)  # 0.1 held
        assert held is not None
        settled = await billing.settle(held, Usage(50, 150))  # the provider counted more
        assert (settled.cost, settled.charged) == (1500, 1000)
        assert await billing.balance(USER) == Balance(USER, 49_000, 0)
        assert (await ledger(billing))[0].note.endswith("(capped at the amount held)")  # type: ignore[union-attr]

    async def test_nothing_to_hold_for_free_models_or_with_credits_off(self) -> None:
        billing = service(signup="5")
        assert (
            await billing.hold(USER, FREE, prompt_tokens=9, max_output_tokens=9, reference="x")
            is None
        )
        off = service(enabled=False)
        assert (
            await off.hold(USER, PRICED, prompt_tokens=9, max_output_tokens=9, reference="x")
            is None
        )

    async def test_a_stale_hold_is_released_by_the_sweeper(self) -> None:
        clock = Clock(T0)
        billing = service(clock, signup="5", timeout=900)
        held = await hold(billing)
        assert held is not None
        assert (await billing.sweep(T0.replace(minute=14, second=59))).holds_released == 0
        assert (await billing.balance(USER)).on_hold == 10_000
        report = await billing.sweep(T0.replace(minute=15, second=1))
        assert report.holds_released == 1
        assert await billing.balance(USER) == Balance(USER, 50_000, 0)
        assert not (await billing.settle(held, Usage(50, 10))).settled  # the worker came back
        assert (await billing.sweep(T0.replace(hour=13))).holds_released == 0
        await assert_ledger_explains_balance(billing)

    async def test_a_hold_whose_worker_died_before_reserving_is_cleaned_up(
        self, mongo_uri: str, database_name: str
    ) -> None:
        billing = service(signup="5")
        held = await hold(billing)
        assert held is not None
        # a second hold document whose reservation never happened (the worker died between)
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_uri)
        holds = client[database_name].holds
        await holds.insert_one(
            {"_id": "orphan", "user_id": USER, "model": "priced", "amount": 10_000,
             "reference": "m2", "created_ms": 0}
        )  # fmt: skip
        report = await billing.sweep(T0.replace(hour=13))
        assert report.holds_released == 1  # the real one; the orphan released nothing
        assert await holds.count_documents({}) == 0
        await client.close()
        assert await billing.balance(USER) == Balance(USER, 50_000, 0)


class TestCrashSafety:
    async def test_an_entry_the_ledger_never_got_is_written_by_the_sweeper(self) -> None:
        billing = service(signup="1")
        await billing.balance(USER)
        # the money moved and the entry is in the account's journal, then the worker died
        later = T0.replace(second=1)
        entry = LedgerEntry("admin:crash", USER, EntryKind.ADMIN, 5000, later, note="crash")
        assert await CreditRepository().apply(entry) is not None
        written = (await CreditRepository().ledger_page(USER, EVERYTHING)).items
        assert [e.key for e in written] == [f"signup:{USER}"]
        report = await billing.sweep()
        assert report.entries_written == 1
        assert (await billing.sweep()).entries_written == 0
        assert [e.key for e in await ledger(billing)] == ["admin:crash", f"signup:{USER}"]
        await assert_ledger_explains_balance(billing)

    async def test_the_next_visit_writes_it_too(self) -> None:
        billing = service()
        await billing.balance(OTHER)
        entry = LedgerEntry("admin:crash", OTHER, EntryKind.ADMIN, 5000, T0)
        await CreditRepository().apply(entry)
        await billing.balance(OTHER)
        assert [e.key for e in await ledger(billing, OTHER)] == ["admin:crash"]
        await assert_ledger_explains_balance(billing, OTHER)

    async def test_a_settle_that_died_before_its_ledger_entry_is_completed(self) -> None:
        billing = service(signup="5")
        held = await hold(billing)
        assert held is not None
        charge = LedgerEntry(f"charge:{held.id}", USER, EntryKind.CHARGE, -3000, T0, "m1")
        repo = CreditRepository()
        assert await repo.close_hold(USER, held.id, amount=10_000, charged=3000, entry=charge)
        # died here: no ledger entry, the hold's document still there
        report = await billing.sweep(T0.replace(hour=13))
        assert (report.holds_released, report.entries_written) == (0, 1)
        assert await billing.balance(USER) == Balance(USER, 47_000, 0)
        await assert_ledger_explains_balance(billing)


class TestTurnsAndUsage:
    async def test_charge_turn_prices_records_and_settles(self) -> None:
        clock = Clock(T0)
        billing = service(clock, signup="5")
        held = await hold(billing)
        cost = await billing.charge_turn(USER, PRICED, Usage(50, 123), hold=held, reference="m1")
        assert (cost.cost, cost.charged) == (1230, 1230)
        again = await billing.charge_turn(USER, PRICED, Usage(50, 123), hold=held, reference="m1")
        assert (again.cost, again.charged) == (1230, 0)  # priced again, charged once
        clock.advance(days=1)
        free = await billing.charge_turn(USER, FREE, Usage(10, 20), hold=None, reference="m2")
        assert (free.cost, free.charged) == (0, 0)
        await billing.charge_turn(USER, PRICED, Usage(5, 7), hold=None, reference="m3")
        report = await billing.usage(USER, None, None)
        assert (report.start.isoformat(), report.end.isoformat()) == ("2026-10-24", "2026-11-22")
        buckets = report.buckets
        assert list(buckets.by_day) == ["2026-11-21", "2026-11-22"]
        assert buckets.by_day["2026-11-21"].cost_units == 1230  # m1 once
        assert buckets.by_day["2026-11-22"].replies == 2
        assert buckets.by_model["priced"].completion_tokens == 130
        assert buckets.total.prompt_tokens == 65
        only_first = await billing.usage(USER, T0.date(), T0.date())
        assert only_first.buckets.total.replies == 1
        assert (await billing.usage(OTHER, None, None)).buckets.total.replies == 0

    async def test_usage_range_is_checked(self) -> None:
        billing = service()
        with pytest.raises(InvalidInput):
            await billing.usage(USER, T0.date(), T0.date().replace(day=1))
        with pytest.raises(InvalidInput, match="366 days"):
            await billing.usage(USER, T0.date().replace(year=2020), T0.date())
