"""The behaviour report's arithmetic: pure functions over message times and counts."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

REPORT_DAYS = 30


@dataclass(frozen=True, slots=True)
class Activity:
    messages_per_day: list[tuple[date, int]]  # the last REPORT_DAYS local days, oldest first
    hour_histogram: list[int]  # 24 buckets, local hour of day
    active_days: int  # local days with at least one message, all time
    first_activity: datetime | None
    last_activity: datetime | None


def summarize_activity(
    times: Iterable[datetime], now: datetime, tz: ZoneInfo, days: int = REPORT_DAYS
) -> Activity:
    """Bucket message times by local day and hour. Times after `now` count like any other."""
    local = [t.astimezone(tz) for t in times]
    by_day = Counter(t.date() for t in local)
    today = now.astimezone(tz).date()
    window = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    hours = [0] * 24
    for moment in local:
        hours[moment.hour] += 1
    return Activity(
        messages_per_day=[(day, by_day.get(day, 0)) for day in window],
        hour_histogram=hours,
        active_days=len(by_day),
        first_activity=min(local, default=None),
        last_activity=max(local, default=None),
    )


def average(total: int, count: int) -> float:
    return round(total / count, 1) if count else 0.0
