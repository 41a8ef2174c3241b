"""What every collection module shares."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
