"""The per-user chat limits: admit a request (or refuse it with RateLimited), give quota back.

Admission is one conditional update of the user's document (see limits/repository.py): the
pure `plan` picks what to claim from the last state this process saw, and the database
applies it only if the stored state still allows it. When it does not (another worker or a
parallel request got there first, or the day changed), the state is read again and planned
again. A refusal is only ever decided on freshly read state, so it is always right; the same
round trip that admits also proves the user still exists.
"""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from simplechat.accounts.service import GONE, REVOKED
from simplechat.accounts.types import User
from simplechat.kit.errors import InvalidInput, NotAuthenticated, NotFound, RateLimited, ServerBusy
from simplechat.kit.telemetry import record_limit_refusal
from simplechat.limits.repository import LimitRepository, Refused
from simplechat.limits.rules import (
    BURST_LIMIT_CODE,
    DAILY_LIMIT_CODE,
    NO_OVERRIDE,
    Claim,
    LimitPolicy,
    LimitState,
    Refusal,
    burst_refusal_message,
    daily_refusal_message,
    effective_policy,
    next_day_start,
    override_problem,
    plan,
    to_ms,
    used_today,
)
from simplechat.limits.rules import MAX_BURST_OVERRIDE as MAX_BURST_OVERRIDE
from simplechat.limits.rules import MAX_DAILY_OVERRIDE as MAX_DAILY_OVERRIDE

MAX_ATTEMPTS = 64  # each lost race means another request was admitted
STATE_CACHE_SIZE = 10_000  # users whose last seen state this process remembers (a guess only)


@dataclass(frozen=True, slots=True)
class Taken:
    """What an admission took, as plain values (a task stores them, so that whoever finds
    its worker dead can give them back)."""

    user_id: str
    day: str
    slot: int
    claimed_ms: int
    previous_ms: int


@dataclass(frozen=True, slots=True)
class Admission:
    """What a request took, so that a failed request can give it back."""

    user: User
    day: str
    slot: int
    claimed_ms: int
    previous_ms: int

    @property
    def taken(self) -> Taken:
        return Taken(self.user.id, self.day, self.slot, self.claimed_ms, self.previous_ms)


@dataclass(frozen=True, slots=True)
class LimitStatus:
    chat_cnt: int
    daily_limit: int
    remaining: int
    burst_limit: int
    burst_window_seconds: int
    resets_at: datetime
    daily_override: int | None = None  # the user's own limits, when an admin set them
    burst_override: int | None = None


class LimitService:
    def __init__(self, *, repo: LimitRepository, policy: LimitPolicy) -> None:
        self._repo = repo
        self._policy = policy
        self._seen: OrderedDict[str, LimitState] = OrderedDict()

    async def admit(self, user_id: str, now: datetime, *, epoch: int | None = None) -> Admission:
        """Admit one message for the user at `now`, or raise RateLimited (or NotAuthenticated
        when the user no longer exists, is disabled, or moved on from the access token's
        `epoch`: the claim's filter names it, so a revoked token costs no extra round trip)."""
        policy = self._policy
        state, fresh = self._seen.get(user_id), False
        for _ in range(MAX_ATTEMPTS):
            if state is None:
                state, fresh = await self._read(user_id, epoch), True
            decision = plan(state, now, policy)
            if isinstance(decision, Refusal):
                if fresh:
                    raise await self._refuse(
                        user_id, decision, effective_policy(policy, state), now
                    )
                state = None  # never refuse on a remembered state: read it first
                continue
            admitted = await self._try(user_id, state, decision, now, epoch)
            if admitted is not None:
                return admitted
            state = None
        raise ServerBusy("Too many parallel requests for this account; try again.")

    async def _read(self, user_id: str, epoch: int | None = None) -> LimitState:
        state = await self._repo.read(user_id=user_id, slots=self._policy.burst, epoch=epoch)
        if isinstance(state, Refused):
            self._seen.pop(user_id, None)
            raise NotAuthenticated(GONE if state is Refused.GONE else REVOKED)
        return state

    async def _try(
        self, user_id: str, state: LimitState, claim: Claim, now: datetime, epoch: int | None
    ) -> Admission | None:
        admitted = await self._repo.claim(
            user_id=user_id,
            seen=state,
            claim=claim,
            daily_limit=effective_policy(self._policy, state).daily,
            now_ms=to_ms(now),
            window_ms=self._policy.burst_window_ms,
            epoch=epoch,
        )
        if admitted is None:
            return None
        self._remember(user_id, admitted.state)
        return Admission(
            user=admitted.user,
            day=claim.day,
            slot=claim.slot,
            claimed_ms=admitted.claimed_ms,
            previous_ms=admitted.previous_ms,
        )

    def _remember(self, user_id: str, state: LimitState) -> None:
        self._seen[user_id] = state
        self._seen.move_to_end(user_id)
        if len(self._seen) > STATE_CACHE_SIZE:
            self._seen.popitem(last=False)

    async def give_back(self, admission: Admission) -> None:
        """Undo an admission whose request failed: it counts against neither limit."""
        await self.give_back_taken(admission.taken)

    async def give_back_taken(self, taken: Taken) -> None:
        """`give_back`, from what the admission took."""
        self._seen.pop(taken.user_id, None)
        await self._repo.give_back(
            user_id=taken.user_id,
            slot=taken.slot,
            day=taken.day,
            claimed_ms=taken.claimed_ms,
            previous_ms=taken.previous_ms,
        )

    async def status(self, user_id: str, now: datetime) -> LimitStatus:
        """Today's count and the limits that apply to the user (their own, if set)."""
        return self._status(await self._read(user_id), now)

    async def overview(self, user_id: str, now: datetime) -> LimitStatus:
        """The same for an admin: any user, disabled or not, read without changing anything."""
        state = await self._repo.peek(user_id=user_id, slots=self._policy.burst)
        if state is None:
            raise NotFound("No such user.")
        return self._status(state, now)

    def _status(self, state: LimitState, now: datetime) -> LimitStatus:
        policy = effective_policy(self._policy, state)
        used = used_today(state, now, policy.timezone)
        return LimitStatus(
            chat_cnt=used,
            daily_limit=policy.daily,
            remaining=max(0, policy.daily - used),
            burst_limit=policy.burst,
            burst_window_seconds=policy.burst_window_seconds,
            resets_at=next_day_start(now, policy.timezone),
            daily_override=state.daily_override if state.daily_override >= 0 else None,
            burst_override=state.burst_override if state.burst_override >= 1 else None,
        )

    async def set_overrides(
        self, user_id: str, *, daily: int | None, burst: int | None, which: frozenset[str]
    ) -> None:
        """Give the user their own daily and/or burst limit (`which` names the ones to set;
        None clears one). They hold like the configured ones, from the next message on."""
        self.validate_overrides(daily=daily, burst=burst)
        for limit, value in (("daily", daily), ("burst", burst)):
            if limit in which:
                stored = NO_OVERRIDE if value is None else value
                if not await self._repo.set_override(user_id=user_id, limit=limit, value=stored):
                    raise NotFound("No such user.")
        self._seen.pop(user_id, None)

    @staticmethod
    def validate_overrides(*, daily: int | None, burst: int | None) -> None:
        problem = override_problem(daily=daily, burst=burst)
        if problem:
            raise InvalidInput(problem)

    async def delete_owner_data(self, user_id: str) -> None:
        """Forget what the limits kept about a deleted user (their refusals)."""
        self._seen.pop(user_id, None)
        await self._repo.delete_refusals(user_id)

    async def _refuse(
        self, user_id: str, refusal: Refusal, policy: LimitPolicy, now: datetime
    ) -> RateLimited:
        await self._repo.record_refusal(user_id=user_id, code=refusal.code)
        record_limit_refusal(refusal.code)
        return refusal_error(refusal, policy, now)


def refusal_error(refusal: Refusal, policy: LimitPolicy, now: datetime) -> RateLimited:
    """The error a refused message gets: which limit, its size, and when to try again."""
    if refusal.code == BURST_LIMIT_CODE:
        message = burst_refusal_message(policy)
        extra: dict[str, object] = {"window_seconds": policy.burst_window_seconds}
    else:
        message = daily_refusal_message(policy)
        extra = {"resets_at": next_day_start(now, policy.timezone).isoformat()}
    return RateLimited(
        message,
        limit_code=refusal.code,
        retry_after=refusal.retry_after,
        extra={"limit": refusal.limit, **extra},
    )


def example_refusals() -> list[RateLimited]:
    """A daily and a burst refusal under the default limits, for the API docs."""
    policy = LimitPolicy(daily=20, burst=3, burst_window_seconds=30, timezone=ZoneInfo("UTC"))
    now = datetime(2026, 11, 21, 15, 14, 32, tzinfo=UTC)
    return [
        refusal_error(Refusal(DAILY_LIMIT_CODE, 20, 31528), policy, now),
        refusal_error(Refusal(BURST_LIMIT_CODE, 3, 12), policy, now),
    ]
