"""What every collection module shares."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, to the millisecond: what MongoDB keeps of a date, so an object reads back exactly
    as it was first returned."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
