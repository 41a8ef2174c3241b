"""The daily quotas: what must allow a request's usage before its engine runs.

`DailyQuota.hold` counts the usage (or refuses with 429) and `release` gives it back when
the request fails; what a request that succeeded counted stays counted. The media service
runs it side by side with billing's hold of the request's price and the API key's count.
"""

from dataclasses import dataclass
from datetime import datetime

from simplechat.kit.errors import RateLimited
from simplechat.kit.telemetry import record_limit_refusal
from simplechat.media.repository import MediaRepository
from simplechat.media.rules import (
    PICTURE_QUOTA_CODE,
    SPEECH_QUOTA_CODE,
    QuotaPolicy,
    day_key,
    limits_for,
    next_day_start,
    picture_refusal,
    seconds_until,
    speech_refusal,
)
from simplechat.media.types import Allowance, MediaUsage, Overrides, QuotaStatus


@dataclass(frozen=True, slots=True)
class Hold:
    user_id: str
    day: str
    usage: MediaUsage


class DailyQuota:
    """Speech seconds and pictures per user per local day, counted atomically (see the
    repository); a user's own quotas (set by an admin) replace the server's."""

    def __init__(self, *, repo: MediaRepository, policy: QuotaPolicy) -> None:
        self._repo = repo
        self._policy = policy

    async def hold(self, user_id: str, usage: MediaUsage, now: datetime) -> Hold:
        """Count `usage` on today's quota, or raise RateLimited (429): which quota, until when."""
        speech_limit, picture_limit = limits_for(self._policy, await self._repo.overrides(user_id))
        day = day_key(now, self._policy.timezone)
        fits_alone = usage.speech_ms <= speech_limit and usage.pictures <= picture_limit
        counted = fits_alone and await self._repo.count(
            user_id=user_id,
            day=day,
            usage=usage,
            speech_limit_ms=speech_limit,
            picture_limit=picture_limit,
        )
        if not counted:
            raise await self._refusal(user_id, day, usage, (speech_limit, picture_limit), now)
        return Hold(user_id, day, usage)

    async def release(self, hold: Hold) -> None:
        await self._repo.uncount(user_id=hold.user_id, day=hold.day, usage=hold.usage)

    async def status(self, user_id: str, now: datetime) -> QuotaStatus:
        overrides = await self._repo.overrides(user_id)
        speech_limit, picture_limit = limits_for(self._policy, overrides)
        used = await self._repo.day_usage(user_id=user_id, day=day_key(now, self._policy.timezone))
        return QuotaStatus(
            speech_ms=Allowance(speech_limit, used.speech_ms),
            pictures=Allowance(picture_limit, used.pictures),
            resets_at=next_day_start(now, self._policy.timezone),
            overridden=overrides != Overrides(),
        )

    async def _refusal(
        self, user_id: str, day: str, usage: MediaUsage, limits: tuple[int, int], now: datetime
    ) -> RateLimited:
        used = await self._repo.day_usage(user_id=user_id, day=day)  # for the message only
        resets = next_day_start(now, self._policy.timezone)
        if usage.speech_ms:
            code, limit = SPEECH_QUOTA_CODE, limits[0]
            message = speech_refusal(limit, used.speech_ms, usage.speech_ms)
            extra: dict[str, object] = {"limit_seconds": limit // 1000,
                                        "used_seconds": used.speech_ms / 1000}  # fmt: skip
        else:
            code, limit = PICTURE_QUOTA_CODE, limits[1]
            message = picture_refusal(limit)
            extra = {"limit": limit, "used": used.pictures}
        record_limit_refusal(code)
        error = RateLimited(
            message,
            limit_code=code,
            retry_after=seconds_until(now, resets),
            extra={**extra, "resets_at": resets.isoformat()},
        )
        # OpenAI's SDKs retry a 429 unless told not to; this one lasts until midnight.
        error.headers["x-should-retry"] = "false"
        return error
