"""The pure rules of tasks, as tables."""

import pytest

from simplechat.tasks.rules import (
    deletable_before,
    end_id,
    flush_due,
    heartbeat_due,
    lease_expired,
    lease_until,
    may_follow,
    parse_last_event_id,
    token_hash,
    token_matches,
    unseen,
)
from simplechat.tasks.types import TaskStatus

Q, R, D, F, C = (
    TaskStatus.QUEUED,
    TaskStatus.RUNNING,
    TaskStatus.DONE,
    TaskStatus.FAILED,
    TaskStatus.CANCELLED,
)


@pytest.mark.parametrize(
    ("pending", "since_ms", "due"),
    [
        (0, 10_000, False),  # nothing to write, however long it has been
        (1, 0, False),
        (1, 99, False),
        (1, 100, True),  # a delta has waited the flush interval
        (19, 50, False),
        (20, 0, True),  # a full batch goes at once
        (35, 0, True),
    ],
)
def test_flush_due(pending: int, since_ms: int, due: bool) -> None:
    assert flush_due(pending, since_ms, flush_ms=100, flush_tokens=20) is due


@pytest.mark.parametrize(
    ("since_ms", "lease_ms", "due"),
    [(0, 30_000, False), (9_999, 30_000, False), (10_000, 30_000, True), (1_000, 3_000, True)],
)
def test_heartbeat_due_three_times_a_lease(since_ms: int, lease_ms: int, due: bool) -> None:
    assert heartbeat_due(since_ms, lease_ms) is due


@pytest.mark.parametrize(
    ("lease", "now", "expired"),
    [(1_000, 999, False), (1_000, 1_000, False), (1_000, 1_001, True)],
)
def test_lease_expired(lease: int, now: int, expired: bool) -> None:
    assert lease_expired(lease, now) is expired


def test_lease_until() -> None:
    assert lease_until(1_000, 30_000) == 31_000


@pytest.mark.parametrize(
    ("before", "after", "allowed"),
    [
        (Q, R, True),
        (Q, C, True),
        (Q, F, True),  # its worker died, or the server stopped, before it began
        (Q, D, False),
        (R, D, True),
        (R, F, True),
        (R, C, True),
        (R, Q, False),
        (D, C, False),  # a finished task never changes again
        (F, R, False),
        (C, R, False),
        (C, D, False),
    ],
)
def test_transitions(before: TaskStatus, after: TaskStatus, allowed: bool) -> None:
    assert may_follow(before, after) is allowed


@pytest.mark.parametrize(
    ("chunks", "after", "expected"),
    [
        ((), 0, []),
        (("a", "b", "c"), 0, [(1, "a"), (2, "b"), (3, "c")]),
        (("a", "b", "c"), 2, [(3, "c")]),
        (("a", "b", "c"), 3, []),
        (("a", "b", "c"), 9, []),  # past the end (the final event's id, or a wrong one)
    ],
)
def test_unseen_batches_with_their_ids(
    chunks: tuple[str, ...], after: int, expected: list[tuple[int, str]]
) -> None:
    assert unseen(chunks, after) == expected


def test_the_end_event_follows_the_last_batch() -> None:
    assert end_id(()) == 1
    assert end_id(("a", "b")) == 3


@pytest.mark.parametrize(
    ("raw", "parsed"), [(None, None), ("", None), ("  ", None), ("0", 0), (" 12 ", 12)]
)
def test_last_event_id(raw: str | None, parsed: int | None) -> None:
    assert parse_last_event_id(raw) == parsed


@pytest.mark.parametrize("raw", ["-1", "abc", "1.5", "1e3x"])
def test_last_event_id_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        parse_last_event_id(raw)


def test_stream_tokens_are_kept_as_hashes() -> None:
    stored = token_hash("secret-token")
    assert stored != "secret-token"
    assert len(stored) == 64
    assert token_matches("secret-token", stored)
    assert not token_matches("other", stored)
    assert not token_matches(None, stored)


@pytest.mark.parametrize(
    ("now", "keep", "before"), [(10_000, 0, None), (10_000, 3_000, 7_000), (10_000, -1, None)]
)
def test_deletable_before(now: int, keep: int, before: int | None) -> None:
    assert deletable_before(now, keep) == before
