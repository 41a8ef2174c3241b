"""TaskService: work that outlives its request, read by anyone's worker.

A capability above calls `create` (the task is stored, queued, with the hash of a stream
token) and `run` (this worker runs its producer in the background: `tasks.runner`). The task
knows nothing of what its producer does: its output is text, its outcome the data of the last
event, and its kind's `on_abandoned` hook (`register`) gives back what creating it took when it
will never finish where it started.

Streams read the output from the database, so they may run on any worker: `open_stream`
claims the task's one stream (one conditional update; a second claim is StreamAlreadyClaimed),
or resumes it for whoever holds the stream token, after `Last-Event-ID`. A reader polls the
task while nothing new comes (a reader in the generating worker is woken at once), notices a
lease that ran out (and fails the task itself, as the sweeper would), and never waits past
`stream_max_seconds`.

The sweeper (`run_sweeper`, every worker runs one) fails live tasks whose lease expired in one
conditional update each, and calls their kind's hook; it also deletes finished tasks kept
longer than `keep_seconds`.
"""

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from simplechat.kit.errors import InternalError, InvalidInput, SimpleChatError
from simplechat.kit.http import error_body
from simplechat.kit.pagination import Paged, PageParams
from simplechat.tasks.errors import (
    StreamAlreadyClaimed,
    StreamTimeout,
    TaskAbandoned,
    TaskCancelled,
    TaskFinished,
    TaskNotFound,
)
from simplechat.tasks.repository import TaskRepository
from simplechat.tasks.rules import (
    deletable_before,
    end_id,
    lease_expired,
    lease_until,
    parse_last_event_id,
    token_hash,
    token_matches,
    unseen,
)
from simplechat.tasks.runner import TaskRunner
from simplechat.tasks.types import (
    LIVE,
    AbandonHook,
    CreatedTask,
    OutputDelta,
    OutputEnd,
    OutputEvent,
    OutputIdle,
    Payload,
    Producer,
    Task,
    TaskPolicy,
    TaskStatus,
)

log = logging.getLogger("simplechat.tasks")
SWEEP_BATCH = 100
TOKEN_BYTES = 24


def error_data(error: SimpleChatError) -> dict[str, Any]:
    """An error event's data: the error body, as /llm/message/stream sends it."""
    return {**error_body(error), "finish_reason": "error"}


class TaskService:
    def __init__(
        self,
        *,
        repo: TaskRepository,
        policy: TaskPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repo = repo
        self._policy = policy
        self._clock = clock
        self._hooks: dict[str, AbandonHook] = {}
        self._signals: dict[str, asyncio.Event] = {}
        self._runner = TaskRunner(
            repo=repo, policy=policy, clock=self._now_ms, notify=self._wake, hooks=self._hooks
        )

    def _now_ms(self) -> int:
        return int(self._clock().timestamp() * 1000)

    def register(self, kind: str, *, on_abandoned: AbandonHook) -> None:
        """Plug a kind of task in: `on_abandoned` gives back what creating one took."""
        self._hooks[kind] = on_abandoned

    # --- creating and running ---
    async def create(self, owner_id: str, kind: str, payload: Payload) -> CreatedTask:
        """Store a queued task; its stream token is returned once, only its hash is kept."""
        if kind not in self._hooks:
            raise ValueError(f"unregistered task kind {kind!r}")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        lease_ms = int(self._policy.lease_seconds * 1000)
        task = await self._repo.insert(
            task_id=uuid.uuid4().hex,
            owner_id=owner_id,
            kind=kind,
            stream_hash=token_hash(token),
            payload=payload,
            lease_ms=lease_until(self._now_ms(), lease_ms),
            created_at=self._clock(),
            worker=self._runner.worker,
        )
        return CreatedTask(task, token)

    def run(self, task: Task, producer: Producer) -> None:
        """Run the task's producer in the background of this worker."""
        self._runner.spawn(task, producer)

    async def stop(self) -> None:
        """Stop this worker's tasks (the lifespan's shutdown)."""
        await self._runner.stop()

    # --- what the routes call ---
    async def get(self, owner_id: str, task_id: str) -> Task:
        task = await self._repo.get_owned(owner_id, task_id)
        if task is None:
            raise TaskNotFound()
        return task

    async def list_page(self, owner_id: str, params: PageParams) -> Paged[Task]:
        """The user's tasks, newest first."""
        items, total = await self._repo.page(owner_id, skip=params.skip, limit=params.limit)
        return Paged(items, total, params)

    async def cancel(self, owner_id: str, task_id: str) -> Task:
        """Cancel a queued or running task (a running one stops at its next flush, keeping
        what it wrote); cancelling a cancelled task changes nothing."""
        now = self._now_ms()
        queued = await self._repo.cancel(owner_id, task_id, TaskStatus.QUEUED, now)
        if queued is not None:  # it never ran: give back what creating it took
            await self._runner.abandon(queued)
            self._wake(task_id)
            return queued
        running = await self._repo.cancel(owner_id, task_id, TaskStatus.RUNNING, now)
        if running is not None:
            self._wake(task_id)
            return running
        task = await self.get(owner_id, task_id)
        if task.status is TaskStatus.CANCELLED:
            return task
        raise TaskFinished()

    async def open_stream(
        self, owner_id: str, task_id: str, token: str | None, last_event_id: str | None
    ) -> AsyncIterator[OutputEvent]:
        """Claim the task's one stream, or resume it with its token after `last_event_id`:
        the events from there on. 404 for another user's task, 409 when already claimed."""
        try:
            after = parse_last_event_id(last_event_id)
        except ValueError:
            raise InvalidInput("Last-Event-ID must be an event id (0 or more).") from None
        task = await self._repo.claim(owner_id, task_id)
        if task is None:
            task = await self.get(owner_id, task_id)
            if not token_matches(token, task.stream_hash):
                raise StreamAlreadyClaimed()
        return self._follow(task, after or 0)

    async def delete_owner_data(self, user_id: str) -> None:
        """A deleted account's tasks (a running one stops at its next flush)."""
        await self._repo.delete_owner(user_id)

    # --- reading a task's output ---
    async def _follow(self, task: Task, after: int) -> AsyncIterator[OutputEvent]:
        policy = self._policy
        deadline = time.monotonic() + policy.stream_max_seconds
        quiet_since = time.monotonic()
        current: Task | None = task
        try:
            while True:
                assert current is not None
                for seq, text in unseen(current.chunks, after):
                    yield OutputDelta(seq, text)
                    after, quiet_since = seq, time.monotonic()
                if current.status.finished:
                    yield self._end(current)
                    return
                if lease_expired(current.lease_ms, self._now_ms()):
                    await self._expire(current)  # its worker died: fail it, as the sweeper does
                elif time.monotonic() >= deadline:
                    yield OutputEnd(after + 1, error_data(StreamTimeout()), error=True)
                    return
                elif time.monotonic() - quiet_since >= policy.keepalive_seconds:
                    yield OutputIdle()
                    quiet_since = time.monotonic()
                signal = self._signals.setdefault(task.id, asyncio.Event())
                with suppress(TimeoutError):
                    async with asyncio.timeout(policy.poll_seconds):
                        await signal.wait()
                current = await self._repo.get(task.id)
                if current is None:  # deleted meanwhile (its account was)
                    yield OutputEnd(after + 1, error_data(TaskNotFound()), error=True)
                    return
        finally:
            self._signals.pop(task.id, None)

    def _end(self, task: Task) -> OutputEnd:
        seq = end_id(task.chunks)
        if task.status is TaskStatus.DONE:
            return OutputEnd(seq, task.final or {}, error=False)
        if task.status is TaskStatus.CANCELLED:
            return OutputEnd(seq, error_data(TaskCancelled()), error=True)
        return OutputEnd(seq, task.final or error_data(InternalError()), error=True)

    def _wake(self, task_id: str) -> None:
        """New output (or an end) for a task: wake this process's readers at once."""
        signal = self._signals.pop(task_id, None)
        if signal is not None:
            signal.set()

    # --- abandoned tasks ---
    async def _expire(self, task: Task) -> bool:
        """Fail a live task whose lease ran out (one conditional update), then call its
        kind's hook; False when it moved on meanwhile (or another worker got there first)."""
        now = self._now_ms()
        final = error_data(TaskAbandoned())
        failed = await self._repo.fail_live(task.id, task.status, final, now, expired_before=now)
        if failed is None:
            return False
        log.warning("tasks.abandoned task=%s kind=%s status=%s", task.id, task.kind, task.status)
        await self._runner.abandon(failed)
        self._wake(task.id)
        return True

    async def sweep(self) -> int:
        """Fail the live tasks whose lease expired; delete finished ones past keeping."""
        now, failed = self._now_ms(), 0
        for status in LIVE:
            for task in await self._repo.expired(status, now, SWEEP_BATCH):
                failed += await self._expire(task)
        cutoff = deletable_before(now, int(self._policy.keep_seconds * 1000))
        if cutoff is not None:
            await self._repo.delete_finished_before(cutoff)
        return failed

    async def run_sweeper(self) -> None:
        """Sweep a few times per lease until cancelled (a task of the lifespan)."""
        interval = max(0.2, self._policy.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                failed = await self.sweep()
            except Exception:  # the database may be away for a while: try again next time
                log.exception("tasks.sweep_failed")
                continue
            if failed:
                log.info("tasks.sweep failed=%s", failed)
