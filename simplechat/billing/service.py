"""BillingService: balances and their ledger, holds for turns in flight, usage, the sweeper.

Credits are off unless SIMPLECHAT_CREDITS=on; pricing and usage work either way.

The contract with chat (one turn):

    hold = await billing.hold(user_id, model, prompt_tokens=..., max_output_tokens=...,
                              reference=<the user message's id>)
        # once the prompt is built, before the provider is called. None: nothing to hold
        # (credits off, or a free model). Short: raises InsufficientCredits (402).
    cost = await billing.charge_turn(user_id, model, usage, hold=hold, reference=...)
        # when the reply is recorded, whole or cut short (usage counted locally when the
        # provider sent none): prices the turn, records its usage, settles the hold.
        # Store cost.cost on the assistant message; $inc it into the conversation's bill.
    await billing.release(hold)
        # on a failure before any output (and a client that left before any).

Every step is safe to repeat and safe to race: a hold closes exactly once (settle, release
and the sweeper race for the same conditional update; losers change nothing), and each
ledger entry is keyed, written ahead into the account's journal by the update that moves the
money (see documents/credit_accounts.py). Holds left by a dead worker are released by the
sweeper after `hold_timeout_seconds`.
"""

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from simplechat.billing.balances import Balances
from simplechat.billing.budgets import Budgets
from simplechat.billing.errors import (
    BalanceTooLow,
    CreditsDisabled,
    InsufficientCredits,
    UserNotFound,
)
from simplechat.billing.holding import ShortCheck, place_hold
from simplechat.billing.repository import (
    CodeRepository,
    CreditRepository,
    UsageRepository,
)
from simplechat.billing.rules import (
    bucket_usage,
    charge_for,
    cost_units,
    day_key,
    default_usage_range,
    media_cost_units,
    to_ms,
    usage_range_problem,
)
from simplechat.billing.types import (
    AdminAction,
    AdminActor,
    AuditRecorder,
    Balance,
    EntryKind,
    Hold,
    LedgerEntry,
    Settlement,
    SweepReport,
    TurnCost,
    UsageReport,
    no_audit,
    to_credits,
)
from simplechat.kit.errors import InvalidInput
from simplechat.kit.pagination import Paged, PageParams
from simplechat.llm.pricing import MediaPrice
from simplechat.llm.types import ModelSpec, Usage

log = logging.getLogger("simplechat.billing")

MAX_HOLD_ATTEMPTS = 8  # a lost race means the balance changed: read it and decide again
SWEEP_BATCH = 200
CODE_GRACE_MS = 60_000  # a used code's credit is only "missing" once its redeem had time to end
USAGE_DEFAULT_DAYS = 30
USAGE_MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class CreditsView:
    balance: Balance
    ledger: Paged[LedgerEntry]  # newest first


@dataclass(frozen=True, slots=True)
class BillingPolicy:
    enabled: bool
    hold_timeout_seconds: int
    timezone: ZoneInfo


class BillingService:
    def __init__(
        self,
        *,
        balances: Balances,
        credits: CreditRepository,
        codes: CodeRepository,
        usage: UsageRepository,
        policy: BillingPolicy,
        audit: AuditRecorder = no_audit,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._audit = audit
        self._balances = balances
        self._credits = credits
        self._codes = codes
        self._usage = usage
        self._policy = policy
        self._clock = clock
        # Spending caps (API keys' max_credits): accounts of their own, held on whether or
        # not credits are on; settled and released with `settle` and `release` below.
        self.budgets = Budgets(credits=credits, clock=clock)

    @property
    def enabled(self) -> bool:
        return self._policy.enabled

    def _require_enabled(self) -> None:
        if not self._policy.enabled:
            raise CreditsDisabled()

    # --- balances ---
    async def balance(self, user_id: str) -> Balance:
        """The user's balance; the account is opened (with the signup credits) on first sight."""
        return await self._balances.balance(user_id)

    async def credits(self, user_id: str, page: PageParams) -> CreditsView:
        """The balance, the amount on hold and a page of the ledger, newest first."""
        self._require_enabled()
        balance = await self.balance(user_id)
        return CreditsView(balance, await self._credits.ledger_page(user_id, page))

    async def credits_of(self, user_id: str, page: PageParams) -> CreditsView:
        """`credits` of any user, for admins (404 for an unknown user)."""
        self._require_enabled()
        if not await self._credits.user_exists(user_id):
            raise UserNotFound()
        return await self.credits(user_id, page)

    async def adjust(self, user_id: str, delta: int, *, reason: str, by: AdminActor) -> Balance:
        """An admin adds (or takes, down to zero available) credits, with a reason."""
        self._require_enabled()
        if not await self._credits.user_exists(user_id):
            raise UserNotFound()
        await self.balance(user_id)
        key = f"admin:{uuid.uuid4().hex}"
        now = self._balances.now()
        entry = LedgerEntry(key, user_id, EntryKind.ADMIN, delta, now, note=reason, by=by.id)
        applied = await self._balances.apply(entry, min_available=-delta if delta < 0 else None)
        if applied is None:
            raise BalanceTooLow(await self.balance(user_id), -delta)
        details = {"delta": str(to_credits(delta)), "reason": reason, "entry": key}
        await self._audit(AdminAction(by, "credits.adjust", target_id=user_id, details=details))
        return applied

    async def delete_owner_data(self, user_id: str) -> None:
        """Forget a deleted user's credit account, ledger, holds and usage records (the codes
        they redeemed stay, used: they are the admins' records)."""
        await asyncio.gather(self._credits.delete_owner(user_id), self._usage.delete_owner(user_id))

    # --- holds ---
    async def hold(
        self,
        user_id: str,
        model: ModelSpec,
        *,
        prompt_tokens: int,
        max_output_tokens: int,
        reference: str,
    ) -> Hold | None:
        """Hold the turn's worst case, or raise InsufficientCredits (402). None: nothing to hold
        (credits are off, or the model is free)."""
        if not self._policy.enabled or model.price is None:
            return None
        amount = cost_units(model.price, prompt_tokens, max_output_tokens)
        if amount <= 0:
            return None
        created_ms = to_ms(self._clock())
        hold = Hold(
            uuid.uuid4().hex, user_id, model.name, model.price, amount, reference, created_ms
        )
        return await place_hold(self._credits, hold, self._short_of(user_id, amount))

    async def settle(self, hold: Hold, usage: Usage) -> Settlement:
        """Charge the turn's real cost (at most the hold) and release the rest, exactly once."""
        cost = cost_units(hold.price, usage.prompt_tokens, usage.completion_tokens)
        note = (
            f"{hold.model}: {usage.prompt_tokens} prompt + {usage.completion_tokens} output tokens"
        )
        return await self.settle_units(hold, cost, note, hold.reference)

    async def settle_units(self, hold: Hold, cost: int, note: str, reference: str) -> Settlement:
        """Charge `cost` (at most the hold; the ledger entry refers to `reference`) and
        release the rest, exactly once: one conditional update decides."""
        charged = charge_for(cost, hold.amount)
        entry = None
        if charged > 0:
            if cost > charged:
                note += " (capped at the amount held)"
            now = self._balances.now()
            entry = LedgerEntry(
                f"charge:{hold.id}", hold.user_id, EntryKind.CHARGE, -charged, now, reference, note
            )
        closed = await self._credits.close_hold(
            hold.user_id, hold.id, amount=hold.amount, charged=charged, entry=entry
        )
        if closed is None:
            return Settlement(hold.id, settled=False, cost=cost, charged=0)
        steps = [self._credits.delete_hold(hold.id)]
        if entry is not None:
            steps.append(self._balances.write(entry))
        await asyncio.gather(*steps)
        return Settlement(hold.id, settled=True, cost=cost, charged=charged)

    def _short_of(self, user_id: str, amount: int, what: str = "this message") -> ShortCheck:
        """What `place_hold` asks after a lost reservation: the user's fresh balance decides."""

        async def short() -> Exception | None:
            balance = await self.balance(user_id)
            if balance.available < amount:
                return InsufficientCredits(balance, amount, what)
            return None

        return short

    async def release(self, hold: Hold | None) -> bool:
        """Give a hold back whole (a failure before any output); False if it was already
        settled or released. Accepts None, so callers need no check."""
        if hold is None:
            return False
        return await self.release_held(hold.user_id, hold.id, hold.amount)

    async def release_held(self, user_id: str, hold_id: str, amount: int) -> bool:
        """`release` by the hold's id and amount (a task whose worker died keeps only these);
        False if it was already settled or released."""
        closed = await self._credits.close_hold(
            user_id, hold_id, amount=amount, charged=0, entry=None
        )
        await self._credits.delete_hold(hold_id)
        return closed is not None

    # --- speech and pictures: priced per second or per picture, not per token ---
    def media_price(
        self, price: MediaPrice | None, *, speech_ms: int = 0, pictures: int = 0
    ) -> int:
        """What a media request costs at its engine's price, in units (0 when unpriced)."""
        return media_cost_units(price, speech_ms=speech_ms, pictures=pictures)

    async def hold_units(
        self, user_id: str, amount: int, *, label: str, reference: str, what: str
    ) -> Hold | None:
        """Hold `amount` units for a call priced outside tokens (`label`: the engine), or
        raise InsufficientCredits (402, saying `what` needs it). None: nothing to hold."""
        if not self._policy.enabled or amount <= 0:
            return None
        hold = Hold(uuid.uuid4().hex, user_id, label, None, amount, reference,
                    to_ms(self._clock()))  # fmt: skip
        return await place_hold(self._credits, hold, self._short_of(user_id, amount, what))

    async def charge_units(
        self, user_id: str, cost: int, *, label: str, note: str, hold: Hold | None, reference: str
    ) -> TurnCost:
        """Record a media request's usage under `label` (its engine) and settle its hold at
        `cost` (the ledger's charge refers to `reference`, the stored result)."""
        now = self._balances.now()
        record = self._usage.record(
            reference=reference,
            user_id=user_id,
            model=label,
            day=day_key(now, self._policy.timezone),
            usage=Usage(prompt_tokens=0, completion_tokens=0),
            cost=cost,
            estimated=False,
            now=now,
        )
        if hold is None:
            await record
            return TurnCost(cost=cost, charged=0)
        settlement, _ = await asyncio.gather(self.settle_units(hold, cost, note, reference),
                                             record)  # fmt: skip
        return TurnCost(cost=cost, charged=settlement.charged)

    # --- turns and usage ---
    def price(self, model: ModelSpec, usage: Usage) -> int:
        """What a turn costs at the model's price, in units (0 for a free model)."""
        return cost_units(model.price, usage.prompt_tokens, usage.completion_tokens)

    async def charge_turn(
        self,
        user_id: str,
        model: ModelSpec,
        usage: Usage,
        *,
        hold: Hold | None,
        reference: str,
        estimated: bool = False,
    ) -> TurnCost:
        """Price a finished turn (whole or cut short), record its usage, settle its hold."""
        cost = self.price(model, usage)
        now = self._balances.now()
        record = self._usage.record(
            reference=reference,
            user_id=user_id,
            model=model.name,
            day=day_key(now, self._policy.timezone),
            usage=usage,
            cost=cost,
            estimated=estimated,
            now=now,
        )
        if hold is None:
            await record
            return TurnCost(cost=cost, charged=0)
        settlement, _ = await asyncio.gather(self.settle(hold, usage), record)
        return TurnCost(cost=cost, charged=settlement.charged)

    async def usage(self, user_id: str, start: date | None, end: date | None) -> UsageReport:
        """Tokens and cost per day and per model, `start` to `end` inclusive (`end` defaults
        to today, `start` to 29 days before `end`)."""
        start, end = self._usage_range(start, end)
        rows = await self._usage.totals(user_id, start, end)
        return UsageReport(start, end, bucket_usage(rows))

    async def usage_of_everyone(self, start: date | None, end: date | None) -> UsageReport:
        """`usage` summed over every user (for admins): replies, tokens and cost per day and
        per model."""
        start, end = self._usage_range(start, end)
        rows = await self._usage.totals_of_everyone(start, end)
        return UsageReport(start, end, bucket_usage(rows))

    def _usage_range(self, start: date | None, end: date | None) -> tuple[date, date]:
        end = end or self._clock().astimezone(self._policy.timezone).date()
        start = start or default_usage_range(end, USAGE_DEFAULT_DAYS)[0]
        problem = usage_range_problem(start, end, USAGE_MAX_DAYS)
        if problem:
            raise InvalidInput(problem)
        return start, end

    # --- the sweeper ---
    async def sweep(self, now: datetime | None = None) -> SweepReport:
        """Release holds older than the timeout (their worker died), write journal entries a
        crash left behind, and credit used codes whose credit never arrived."""
        now_ms = to_ms(now or self._clock())
        released = 0
        timeout_ms = self._policy.hold_timeout_seconds * 1000
        for stale in await self._credits.stale_holds(
            before_ms=now_ms - timeout_ms, limit=SWEEP_BATCH
        ):
            closed = await self._credits.close_hold(
                stale.user_id, stale.id, amount=stale.amount, charged=0, entry=None
            )
            await self._credits.delete_hold(stale.id)
            if closed is not None:
                released += 1
                log.warning(
                    "billing.hold_released_by_sweeper hold=%s user=%s", stale.id, stale.user_id
                )
        written = await self._balances.write_journals(SWEEP_BATCH)
        due = await self._codes.due(used_before_ms=now_ms - CODE_GRACE_MS, limit=SWEEP_BATCH)
        for code in due:
            await self._balances.credit_code(code)
        return SweepReport(released, written, len(due))

    async def run_sweeper(self, interval_seconds: float) -> None:
        """Sweep every `interval_seconds` until cancelled (a task of the lifespan)."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                report = await self.sweep()
            except Exception:  # the database may be away for a while: try again next time
                log.exception("billing.sweep_failed")
                continue
            if report != SweepReport():
                log.info("billing.sweep released=%s written=%s codes=%s", report.holds_released,
                         report.entries_written, report.codes_credited)  # fmt: skip
