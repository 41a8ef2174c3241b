"""The pure rules of tasks: when output is flushed, leases, which status may follow which, what
a stream sends next. No I/O, no clock (times come in as epoch milliseconds), no settings."""

import hashlib
import hmac

from simplechat.tasks.types import FINISHED, TaskStatus

# Which status may follow which. A finished task never changes again.
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.QUEUED: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED, TaskStatus.FAILED}),
    TaskStatus.RUNNING: frozenset({TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED}),
    TaskStatus.DONE: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}
HEARTBEAT_SHARE = 3  # a live task's lease is renewed at least 3 times per lease


def may_follow(before: TaskStatus, after: TaskStatus) -> bool:
    return after in TRANSITIONS[before]


def flush_due(
    pending_tokens: int, since_flush_ms: int, *, flush_ms: int, flush_tokens: int
) -> bool:
    """Write the pending output now? When `flush_tokens` deltas wait, or when any has waited
    `flush_ms`: a reply of any length costs about one write per `flush_tokens` deltas, and a
    reader sees text at most `flush_ms` late."""
    if pending_tokens <= 0:
        return False
    return pending_tokens >= flush_tokens or since_flush_ms >= flush_ms


def heartbeat_due(since_renewed_ms: int, lease_ms: int) -> bool:
    """Renew the lease although there is nothing to write (a silent upstream)?"""
    return since_renewed_ms >= lease_ms // HEARTBEAT_SHARE


def lease_until(now_ms: int, lease_ms: int) -> int:
    return now_ms + lease_ms


def lease_expired(lease_until_ms: int, now_ms: int) -> bool:
    """A live task whose lease ran out: its worker stopped renewing it (it died)."""
    return now_ms > lease_until_ms


def deletable_before(now_ms: int, keep_ms: int) -> int | None:
    """Finished tasks that finished before this may be deleted (None: they are kept)."""
    return None if keep_ms <= 0 else now_ms - keep_ms


def unseen(chunks: tuple[str, ...], after: int) -> list[tuple[int, str]]:
    """The batches after event id `after`, with their ids (1-based)."""
    start = max(0, after)
    return [(start + i + 1, text) for i, text in enumerate(chunks[start:])]


def end_id(chunks: tuple[str, ...]) -> int:
    """The id of a finished task's last event: just after its last batch."""
    return len(chunks) + 1


def is_finished(status: TaskStatus) -> bool:
    return status in FINISHED


def token_hash(token: str) -> str:
    """What is stored of a stream token: its SHA-256 (the token is 192 random bits, so no
    slow hash is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str | None, stored_hash: str) -> bool:
    return token is not None and hmac.compare_digest(token_hash(token), stored_hash)


def parse_last_event_id(raw: str | None) -> int | None:
    """Last-Event-ID as an event id (a non-negative integer); None if absent; ValueError if
    it is anything else."""
    if raw is None or raw.strip() == "":
        return None
    value = int(raw.strip())
    if value < 0:
        raise ValueError("negative")
    return value
