"""CodeService against the real test database: codes made, listed, disabled and redeemed;
parallel redemptions; the per-user attempt limit; a crash between using a code and crediting
it. Time is passed in, never slept."""

import asyncio
from datetime import timedelta

import pytest

from simplechat.billing.codes import CodeService
from simplechat.billing.errors import (
    CodeDisabled,
    CodeExpired,
    CodeNotFound,
    CodeUsed,
    CreditsDisabled,
)
from simplechat.billing.repository import CodeRepository
from simplechat.billing.rules import code_id, format_code
from simplechat.billing.service import BillingService
from simplechat.billing.types import Balance, CodeStatus, EntryKind
from simplechat.documents.redeem_codes import RedeemCodeDoc
from simplechat.kit.errors import InvalidInput, RateLimited
from simplechat.kit.pagination import PageParams
from tests.billing.conftest import ADMIN, OTHER, T0, USER
from tests.factories import Clock, billing_services

pytestmark = pytest.mark.usefixtures("database")
EVERYTHING = PageParams(page=1, page_size=100)


def services(
    clock: Clock, *, attempts: int = 10, signup: str = "0", enabled: bool = True
) -> tuple[BillingService, CodeService]:
    kit = billing_services(clock, enabled=enabled, signup=signup, redeem_attempts=attempts)
    return kit.service, kit.codes


@pytest.fixture
def clock() -> Clock:
    return Clock(T0, tick=timedelta(milliseconds=1))


async def make(codes: CodeService, credits: int = 100_000) -> str:
    made = await codes.create(credits=credits, count=1, expires=None, note=None, by=ADMIN)
    assert made[0].code is not None  # shown once, when made
    return made[0].code


async def test_create_list_get_and_disable(clock: Clock) -> None:
    _, codes = services(clock)
    made = await codes.create(credits=50_000, count=3, expires=None, note="launch", by=ADMIN)
    assert len({c.code for c in made}) == 3
    assert all(len(c.code or "") == 28 and c.status is CodeStatus.UNUSED for c in made)
    assert all(c.id == code_id(c.code or "") and c.prefix == (c.code or "")[:4] for c in made)
    soon = await codes.create(
        credits=1, count=1, expires=T0 + timedelta(days=1), note=None, by=ADMIN
    )
    page = await codes.page(None, PageParams(page=1, page_size=2))
    assert page.total == 4
    # listed by id and first symbols, never whole (codes of one batch in id order)
    assert [c.id for c in page.items] == [soon[0].id, min(c.id or "" for c in made)]
    assert all(c.code is None for c in page.items)
    first = made[0].code or ""
    looked_up = await codes.get(format_code(first).lower())
    assert (looked_up.credits, looked_up.note, looked_up.created_by) == (50_000, "launch", ADMIN.id)
    assert (await codes.get(made[0].id or "")).credits == 50_000  # by its listed id too
    disabled = await codes.disable(first, by=ADMIN)
    assert disabled.status is CodeStatus.DISABLED
    assert (await codes.disable(made[0].id or "", by=ADMIN)).status is CodeStatus.DISABLED
    clock.advance(days=2)
    expired = await codes.page(CodeStatus.EXPIRED, EVERYTHING)
    assert [c.id for c in expired.items] == [soon[0].id]
    assert (await codes.page(CodeStatus.UNUSED, EVERYTHING)).total == 2
    assert (await codes.page(CodeStatus.DISABLED, EVERYTHING)).total == 1
    with pytest.raises(CodeNotFound):
        await codes.get("0000-0000-0000-0000-0000-0000-0000")
    with pytest.raises(CodeNotFound):
        await codes.get("nonsense")
    with pytest.raises(InvalidInput, match="future"):
        await codes.create(credits=1, count=1, expires=T0, note=None, by=ADMIN)


async def test_redeem_credits_once_and_explains_it(clock: Clock) -> None:
    billing, codes = services(clock, signup="1")
    code = await make(codes, 100_000)
    redeemed = await codes.redeem(user_id=USER, username="eric", text=format_code(code))
    assert redeemed.balance == Balance(USER, 110_000, 0)
    assert redeemed.credits == 100_000
    with pytest.raises(CodeUsed):
        await codes.redeem(user_id=USER, username="eric", text=code)
    with pytest.raises(CodeUsed):
        await codes.redeem(user_id=OTHER, username="mallory", text=code)
    used = await codes.get(code)
    assert (used.status, used.used_by, used.used_by_name) == (CodeStatus.USED, USER, "eric")
    assert used.used_at is not None
    with pytest.raises(CodeUsed):
        await codes.disable(code, by=ADMIN)
    entries = (await billing.credits(USER, EVERYTHING)).ledger.items
    assert [(e.kind, e.delta, e.reference) for e in entries] == [
        (EntryKind.REDEEM, 100_000, f"{code[:4]}-…"),  # never the code in the ledger
        (EntryKind.SIGNUP, 10_000, None),
    ]


async def test_distinct_errors(clock: Clock) -> None:
    _, codes = services(clock)
    expiring = await codes.create(
        credits=1, count=1, expires=T0 + timedelta(hours=1), note=None, by=ADMIN
    )
    disabled = await make(codes)
    await codes.disable(disabled, by=ADMIN)
    clock.advance(hours=2)
    with pytest.raises(CodeExpired) as expired:
        await codes.redeem(user_id=USER, username="eric", text=expiring[0].code or "")
    assert expired.value.status_code == 410
    with pytest.raises(CodeDisabled):
        await codes.redeem(user_id=USER, username="eric", text=disabled)
    with pytest.raises(CodeNotFound):
        await codes.redeem(user_id=USER, username="eric", text="Z" * 28)
    with pytest.raises(InvalidInput, match="not a redeem code"):
        await codes.redeem(user_id=USER, username="eric", text="hello")


async def test_of_64_parallel_redemptions_exactly_one_succeeds(clock: Clock) -> None:
    billing, codes = services(clock, attempts=100)
    code = await make(codes, 70_000)
    users = [USER, OTHER]

    async def attempt(n: int) -> str:
        user = users[n % 2]
        try:
            await codes.redeem(user_id=user, username=user, text=code)
        except CodeUsed:
            return "used"
        return "ok"

    outcomes = await asyncio.gather(*(attempt(n) for n in range(64)))
    assert outcomes.count("ok") == 1
    assert outcomes.count("used") == 63
    balances = [await billing.balance(u) for u in users]
    assert sorted(b.balance for b in balances) == [0, 70_000]


async def test_attempts_are_limited_per_user_and_successes_give_theirs_back(clock: Clock) -> None:
    _, codes = services(clock, attempts=3)
    good = [await make(codes, 1) for _ in range(5)]
    for code in good:  # successes do not count
        await codes.redeem(user_id=USER, username="eric", text=code)
    for _ in range(3):
        with pytest.raises(CodeNotFound):
            await codes.redeem(user_id=USER, username="eric", text="Z" * 28)
    with pytest.raises(RateLimited) as limited:
        await codes.redeem(user_id=USER, username="eric", text=await make(codes, 1))
    error = limited.value
    assert (error.error_code, error.status_code) == ("redeem_limit", 429)
    assert 0 < int(error.headers["Retry-After"]) <= 3600
    with pytest.raises(CodeNotFound):  # another user is not limited
        await codes.redeem(user_id=OTHER, username="mallory", text="Z" * 28)
    clock.advance(hours=1)  # a new window
    await codes.redeem(user_id=USER, username="eric", text=await make(codes, 1))


async def test_parallel_guesses_never_pass_the_limit(clock: Clock) -> None:
    _, codes = services(clock, attempts=5)

    async def guess(n: int) -> str:
        try:
            await codes.redeem(user_id=USER, username="eric", text=f"{n:028d}")
        except RateLimited:
            return "limited"
        except CodeNotFound:
            return "unknown"
        return "ok"

    outcomes = await asyncio.gather(*(guess(n) for n in range(30)))
    assert outcomes.count("unknown") == 5
    assert outcomes.count("limited") == 25


async def test_a_crash_between_using_a_code_and_crediting_it(clock: Clock) -> None:
    kit = billing_services(clock)
    billing, codes = kit.service, kit.codes
    code = await make(codes, 30_000)
    await billing.balance(USER)
    # the worker used the code, then died before the credit
    claimed = await CodeRepository().claim(
        (code_id(code),), user_id=USER, username="eric", now_ms=0
    )
    assert claimed is not None
    assert (await billing.balance(USER)).balance == 0
    assert (await billing.sweep()).codes_credited == 1
    assert (await billing.sweep()).codes_credited == 0
    again = await kit.balances.credit_code(claimed)
    assert again == Balance(USER, 30_000, 0)  # credited once, however often
    entries = (await billing.credits(USER, EVERYTHING)).ledger.items
    assert [(e.kind, e.delta) for e in entries] == [(EntryKind.REDEEM, 30_000)]


async def test_the_next_attempt_at_the_code_finishes_a_crashed_redeem(clock: Clock) -> None:
    billing, codes = services(clock)
    code = await make(codes, 30_000)
    await billing.balance(USER)
    await CodeRepository().claim((code_id(code),), user_id=USER, username="eric", now_ms=0)
    with pytest.raises(CodeUsed):
        await codes.redeem(user_id=OTHER, username="mallory", text=code)
    assert (await billing.balance(USER)).balance == 30_000
    assert (await billing.balance(OTHER)).balance == 0
    assert (await billing.sweep()).codes_credited == 0


async def test_credits_off(clock: Clock) -> None:
    _, codes = services(clock, enabled=False)
    with pytest.raises(CreditsDisabled):
        await codes.create(credits=1, count=1, expires=None, note=None, by=ADMIN)
    with pytest.raises(CreditsDisabled):
        await codes.redeem(user_id=USER, username="eric", text="Z" * 28)


async def test_a_code_is_stored_as_its_hash_and_first_symbols(clock: Clock) -> None:
    _, codes = services(clock)
    code = await make(codes)
    stored = await RedeemCodeDoc.get_pymongo_collection().find().to_list()
    assert [(d["_id"], d["prefix"]) for d in stored] == [(code_id(code), code[:4])]
    assert code not in str(stored)


async def test_a_code_made_before_codes_were_hashed_keeps_working(clock: Clock) -> None:
    """Not migrated: its plaintext id is found beside the hash, and never shown whole."""
    billing, codes = services(clock)
    legacy = "K7Q29XMB4RTAH3VZ0PCNW8EJ6DFS"
    await RedeemCodeDoc.get_pymongo_collection().insert_one(
        {
            "_id": legacy,
            "credits": 20_000,
            "status": "unused",
            "note": None,
            "created_at": T0,
            "created_ms": 0,
            "created_by": ADMIN.id,
            "expires_ms": 253_402_300_799_000,
            "credit_due": False,
        }
    )
    found = await codes.get(format_code(legacy))
    assert (found.id, found.prefix, found.code) == (code_id(legacy), "K7Q2", None)
    assert found.credits == 20_000
    listed = (await codes.page(None, EVERYTHING)).items
    assert [(c.id, c.prefix, c.code) for c in listed] == [(code_id(legacy), "K7Q2", None)]
    assert (await codes.get(code_id(legacy))).prefix == "K7Q2"  # by its listed id too
    redeemed = await codes.redeem(user_id=USER, username="eric", text=legacy.lower())
    assert redeemed.credits == 20_000
    with pytest.raises(CodeUsed):
        await codes.redeem(user_id=OTHER, username="mallory", text=legacy)
    entries = (await billing.credits(USER, EVERYTHING)).ledger.items
    assert [e.reference for e in entries if e.kind is EntryKind.REDEEM] == ["K7Q2-…"]
