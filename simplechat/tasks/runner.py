"""TaskRunner: runs this worker's tasks in the background, and TaskOutput, what they write to.

A task waits (queued, its lease renewed) until one of the worker's `max_running` places is
free, then moves queued -> running in one conditional update and runs its producer. The
producer's output is batched: one update per `flush_tokens` deltas or `flush_seconds`
(whichever comes first), which also renews the lease; with nothing to write, the lease is
renewed a few times per lease. Each of those updates is conditional on the task still
running: when it is not (cancelled, or failed by a sweeper that thought the worker dead), the
producer is stopped, as if its client had left.

The runner keeps a reference to every task it runs (asyncio keeps only weak ones); `stop`
(the lifespan's shutdown) cancels them, so their producers finish as a client disconnect
does, and marks them failed.
"""

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from contextlib import suppress

import anyio

from simplechat.kit.errors import InternalError, SimpleChatError
from simplechat.kit.http import error_body
from simplechat.tasks.errors import ServerStopped
from simplechat.tasks.repository import TaskRepository
from simplechat.tasks.rules import flush_due, heartbeat_due, lease_until
from simplechat.tasks.types import (
    AbandonHook,
    Producer,
    Task,
    TaskPolicy,
    TaskResult,
    TaskStatus,
)

log = logging.getLogger("simplechat.tasks")

Clock = Callable[[], int]  # now, in epoch milliseconds
Notify = Callable[[str], None]  # new output for a task: wake its readers in this process


class TaskStopped(Exception):
    """The task is no longer running here (cancelled, or failed by the sweeper)."""


class TaskOutput:
    """Batches a producer's output into the task's document."""

    def __init__(
        self,
        repo: TaskRepository,
        task_id: str,
        policy: TaskPolicy,
        clock: Clock,
        notify: Notify,
    ) -> None:
        self._repo = repo
        self._task_id = task_id
        self._policy = policy
        self._clock = clock
        self._notify = notify
        self._pending: list[str] = []
        self._unsent = ""  # what a refused flush could not write (kept for the last update)
        self._flushed_ms = self._renewed_ms = clock()
        self._lock = asyncio.Lock()
        self.stopped = False

    @property
    def _lease_ms(self) -> int:
        return int(self._policy.lease_seconds * 1000)

    def _flush_due(self, now_ms: int) -> bool:
        return flush_due(
            len(self._pending),
            now_ms - self._flushed_ms,
            flush_ms=int(self._policy.flush_seconds * 1000),
            flush_tokens=self._policy.flush_tokens,
        )

    async def write(self, text: str) -> None:
        """Add output (one delta); raises TaskStopped when the task no longer runs here."""
        if self.stopped:
            raise TaskStopped()
        if text:
            self._pending.append(text)
        if self._flush_due(self._clock()):
            await self.flush()

    async def flush(self) -> None:
        """Write what is pending (or only renew the lease)."""
        async with self._lock:
            if self.stopped:
                raise TaskStopped()
            text, self._pending = "".join(self._pending), []
            now = self._clock()
            try:
                running = await self._repo.append(
                    self._task_id, text, lease_until(now, self._lease_ms)
                )
            except Exception:  # the database is away: keep the text, try again next time
                log.exception("tasks.flush_failed task=%s", self._task_id)
                self._pending.insert(0, text)
                return
            self._flushed_ms = self._renewed_ms = now
            if not running:
                self.stopped, self._unsent = True, text
                raise TaskStopped()
            if text:
                self._notify(self._task_id)

    async def tick(self, producer: "asyncio.Task[TaskResult]") -> None:
        """Beside the producer: flush what waited too long, renew the lease while the
        producer is silent, and stop the producer when the task no longer runs here."""
        # Often enough to flush on time and to renew the lease a few times per lease.
        interval = min(self._policy.flush_seconds, self._policy.lease_seconds / 6)
        while True:
            await asyncio.sleep(interval)
            now = self._clock()
            if self._flush_due(now) or heartbeat_due(now - self._renewed_ms, self._lease_ms):
                try:
                    await self.flush()
                except TaskStopped:
                    producer.cancel()
                    return

    def take_rest(self) -> str:
        """What was never written: for the task's last update."""
        rest, self._unsent, self._pending = self._unsent + "".join(self._pending), "", []
        return rest


class TaskRunner:
    def __init__(
        self,
        *,
        repo: TaskRepository,
        policy: TaskPolicy,
        clock: Clock,
        notify: Notify,
        hooks: Mapping[str, AbandonHook],
    ) -> None:
        self._repo = repo
        self._policy = policy
        self._clock = clock
        self._notify = notify
        self._hooks = hooks
        self._places = asyncio.Semaphore(policy.max_running)
        self._running: set[asyncio.Task[None]] = set()
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def spawn(self, task: Task, producer: Producer) -> None:
        """Run `producer` for `task` in the background of this worker."""
        running = asyncio.create_task(self._run(task, producer), name=f"task-{task.id}")
        self._running.add(running)
        running.add_done_callback(self._running.discard)

    @property
    def active(self) -> int:
        return len(self._running)

    async def stop(self) -> None:
        """Cancel every task this worker runs and wait for them to be recorded."""
        running = list(self._running)
        for each in running:
            each.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def _lease(self) -> int:
        return lease_until(self._clock(), int(self._policy.lease_seconds * 1000))

    async def _run(self, task: Task, producer: Producer) -> None:
        started = False
        try:
            # A task cancelled (or failed) while it waited was given back by whoever did it.
            if not await self._wait_turn(task.id):
                return
            try:
                started = await self._repo.start(task.id, self._lease(), self.worker)
                if not started:
                    return
                await self._execute(task.id, producer)
            finally:
                self._places.release()
        except asyncio.CancelledError:
            with anyio.CancelScope(shield=True):
                await self._stopped(task, started)
            raise
        except Exception:
            log.exception("tasks.run_failed task=%s", task.id)

    async def _wait_turn(self, task_id: str) -> bool:
        """Wait for a free place, renewing the queued task's lease; False if it was cancelled
        (or failed) meanwhile."""
        renew_every = self._policy.lease_seconds / 3
        while True:
            try:
                async with asyncio.timeout(renew_every):
                    await self._places.acquire()
                return True
            except TimeoutError:
                if not await self._repo.renew_queued(task_id, self._lease()):
                    return False

    async def _execute(self, task_id: str, producer: Producer) -> None:
        output = TaskOutput(self._repo, task_id, self._policy, self._clock, self._notify)
        produce = asyncio.create_task(producer(output))
        ticker = asyncio.create_task(output.tick(produce))
        result: TaskResult | None = None
        try:
            result = await produce
        except TaskStopped:
            pass
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not output.stopped or (current is not None and current.cancelling()):
                # The server is stopping: the producer stored what it had, as when a client
                # leaves; the task keeps the same text and fails.
                await _halt(ticker)
                with anyio.CancelScope(shield=True):
                    await self._fail_stopped(task_id, TaskStatus.RUNNING, output.take_rest())
                raise
        except Exception as exc:
            log.exception("tasks.producer_failed task=%s", task_id)
            error = exc if isinstance(exc, SimpleChatError) else InternalError()
            result = TaskResult(TaskStatus.FAILED, error_body(error))
        await _halt(ticker)
        await self._record(task_id, result, output.take_rest())

    async def _record(self, task_id: str, result: TaskResult | None, rest: str) -> None:
        now = self._clock()
        if result is None:  # stopped: it was cancelled (or failed) meanwhile
            await self._repo.settle_cancelled(task_id, TaskResult(TaskStatus.CANCELLED), rest, now)
        elif not await self._repo.finish(task_id, result, rest, now):
            await self._repo.settle_cancelled(task_id, result, rest, now)
        self._notify(task_id)

    async def _stopped(self, task: Task, started: bool) -> None:
        """The server stops: a task that never started is failed and given back (its hook);
        a running one was failed by `_execute` (this changes it no more)."""
        status = TaskStatus.RUNNING if started else TaskStatus.QUEUED
        failed = await self._fail_stopped(task.id, status, "")
        if failed is not None and not started:
            await self.abandon(failed)

    async def _fail_stopped(self, task_id: str, status: TaskStatus, rest: str) -> Task | None:
        final = {**error_body(ServerStopped()), "finish_reason": "error"}
        try:
            failed = await self._repo.fail_live(task_id, status, final, self._clock(), rest=rest)
        except Exception:
            log.exception("tasks.stop_failed task=%s", task_id)
            return None
        self._notify(task_id)
        return failed

    async def abandon(self, task: Task) -> None:
        """Call the kind's hook for a task that will never finish where it started."""
        hook = self._hooks.get(task.kind)
        if hook is None:
            log.warning("tasks.no_hook kind=%s task=%s", task.kind, task.id)
            return
        try:
            await hook(task)
        except Exception:
            log.exception("tasks.hook_failed kind=%s task=%s", task.kind, task.id)


async def _halt(task: "asyncio.Task[None]") -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
