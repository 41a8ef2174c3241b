"""The per-user chat limits: admit a request (or refuse it with RateLimited), give quota back.

Order matters for exactness: the burst slot is claimed first, then the daily count. When the
daily limit refuses, the slot is given back; a parallel request could only have been refused
by that momentarily held slot if the day was already full, so no request is wrongly refused.
"""

from dataclasses import dataclass
from datetime import datetime

from simplechat.domain.ratelimit import (
    BURST_LIMIT_CODE,
    DAILY_LIMIT_CODE,
    LimitPolicy,
    burst_refusal_message,
    burst_retry_after,
    daily_refusal_message,
    day_key,
    next_day_start,
    seconds_until,
    to_ms,
)
from simplechat.errors import RateLimited
from simplechat.storage.limits import LimitRepository, SlotClaim
from simplechat.telemetry import record_limit_refusal


@dataclass(frozen=True, slots=True)
class Admission:
    """What a request took, so that a failed request can give it back."""

    user_id: str
    day: str
    slot: SlotClaim


@dataclass(frozen=True, slots=True)
class LimitStatus:
    chat_cnt: int
    daily_limit: int
    remaining: int
    burst_limit: int
    burst_window_seconds: int
    resets_at: datetime


class LimitService:
    def __init__(self, *, repo: LimitRepository, policy: LimitPolicy, status_code: int) -> None:
        self._repo = repo
        self._policy = policy
        self._status_code = status_code

    @property
    def policy(self) -> LimitPolicy:
        return self._policy

    async def admit(self, user_id: str, now: datetime) -> Admission:
        policy = self._policy
        now_ms = to_ms(now)
        claim = await self._repo.claim_burst_slot(
            user_id=user_id, slots=policy.burst, now_ms=now_ms, window_ms=policy.burst_window_ms
        )
        if claim is None:
            free_ms = await self._repo.earliest_burst_free_ms(user_id=user_id, slots=policy.burst)
            raise await self._refuse(
                user_id,
                BURST_LIMIT_CODE,
                burst_refusal_message(policy),
                policy.burst,
                burst_retry_after(now_ms, free_ms),
                window_seconds=policy.burst_window_seconds,
            )
        day = day_key(now, policy.timezone)
        if await self._repo.take_daily(user_id=user_id, day=day, limit=policy.daily) is None:
            await self._repo.release_burst_slot(user_id=user_id, claim=claim)
            resets_at = next_day_start(now, policy.timezone)
            raise await self._refuse(
                user_id,
                DAILY_LIMIT_CODE,
                daily_refusal_message(policy),
                policy.daily,
                seconds_until(now, resets_at),
                resets_at=resets_at.isoformat(),
            )
        return Admission(user_id=user_id, day=day, slot=claim)

    async def give_back(self, admission: Admission) -> None:
        """Undo an admission whose request failed: it counts against neither limit."""
        await self._repo.give_back_daily(user_id=admission.user_id, day=admission.day)
        await self._repo.release_burst_slot(user_id=admission.user_id, claim=admission.slot)

    async def status(self, user_id: str, now: datetime) -> LimitStatus:
        policy = self._policy
        used = await self._repo.daily_count(user_id=user_id, day=day_key(now, policy.timezone))
        return LimitStatus(
            chat_cnt=used,
            daily_limit=policy.daily,
            remaining=max(0, policy.daily - used),
            burst_limit=policy.burst,
            burst_window_seconds=policy.burst_window_seconds,
            resets_at=next_day_start(now, policy.timezone),
        )

    async def _refuse(
        self, user_id: str, code: str, message: str, limit: int, retry_after: int, **extra: object
    ) -> RateLimited:
        await self._repo.record_refusal(user_id=user_id, code=code)
        record_limit_refusal(code)
        return RateLimited(
            message,
            limit_code=code,
            retry_after=retry_after,
            status_code=self._status_code,
            extra={"limit": limit, **extra},
        )
