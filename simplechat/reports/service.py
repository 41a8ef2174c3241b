"""The behaviour report: what a user did, from their own data only.

Reports sit above the capabilities whose figures they show: what the media capability
recorded comes through its service (`MediaService.totals`), not from its collections.
"""

import asyncio
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from simplechat.accounts.types import User
from simplechat.media.service import MediaService
from simplechat.media.types import MediaTotals
from simplechat.reports.repository import ReportRepository
from simplechat.reports.rules import Activity, average, summarize_activity


@dataclass(frozen=True, slots=True)
class Report:
    username: str
    generated_at: datetime
    timezone: str
    messages: int
    replies: int
    by_kind: dict[str, int]
    activity: Activity
    average_chars: float
    average_tokens: float
    prompt_tokens: int
    completion_tokens: int
    refusals: dict[str, int]
    media: MediaTotals


@dataclass(frozen=True, slots=True)
class Figures:
    """A user's totals at a glance (for admins)."""

    messages: int
    replies: int
    prompt_tokens: int
    completion_tokens: int
    last_activity: datetime | None


class ReportService:
    def __init__(self, *, repo: ReportRepository, tz: ZoneInfo, media: MediaService) -> None:
        self._repo = repo
        self._tz = tz
        self._media = media

    async def build(self, user: User, now: datetime) -> Report:
        kinds, usage, times, refusals, media = await asyncio.gather(
            self._repo.kinds(user.id),
            self._repo.usage(user.id),
            self._repo.message_times(user.id),
            self._repo.refusals(user.id),
            self._media.totals(user.id),
        )
        messages = sum(k.messages for k in kinds.values())
        return Report(
            username=user.username,
            generated_at=now,
            timezone=str(self._tz),
            messages=messages,
            replies=usage.replies,
            by_kind={name: k.messages for name, k in kinds.items()},
            activity=summarize_activity(times, now, self._tz),
            average_chars=average(sum(k.chars for k in kinds.values()), messages),
            average_tokens=average(sum(k.tokens for k in kinds.values()), messages),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            refusals=refusals,
            media=media,
        )

    async def figures(self, user_id: str) -> Figures:
        kinds, usage, last = await asyncio.gather(
            self._repo.kinds(user_id),
            self._repo.usage(user_id),
            self._repo.last_message_at(user_id),
        )
        return Figures(
            messages=sum(k.messages for k in kinds.values()),
            replies=usage.replies,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            last_activity=last,
        )
