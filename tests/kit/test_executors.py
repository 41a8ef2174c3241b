"""The bounded executor decoding runs on: its own threads (the default pool, which password
hashing and token counting use, stays free), a bounded queue, and 503 beyond it."""

import asyncio
import threading
from collections.abc import Callable

import pytest

from simplechat.kit.errors import ServerBusy
from simplechat.kit.executors import BoundedExecutor


def blocking(release: threading.Event, value: int) -> int:
    assert release.wait(10)
    return value


async def wait_until(predicate: Callable[[], bool], seconds: float = 5) -> None:
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def test_beyond_its_workers_and_queue_it_refuses_at_once() -> None:
    executor = BoundedExecutor(workers=1, queue=1)
    release = threading.Event()
    try:
        running = asyncio.create_task(executor.run(blocking, release, 1))
        waiting = asyncio.create_task(executor.run(blocking, release, 2))
        await wait_until(lambda: executor.busy == 2)
        with pytest.raises(ServerBusy) as refused:
            await executor.run(blocking, release, 3)
        assert refused.value.headers["Retry-After"] == "1"
        # the default pool (argon2, token counting) is not behind the decoding
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "login"), 2) == "login"
        release.set()
        assert (await running, await waiting) == (1, 2)
        await wait_until(lambda: executor.busy == 0)
        assert await executor.run(lambda: 4) == 4
    finally:
        release.set()
        executor.shutdown()


async def test_a_cancelled_caller_keeps_its_slot_until_the_job_ends() -> None:
    """A client that leaves does not make room for more work while its decoding still runs."""
    executor = BoundedExecutor(workers=1, queue=0)
    release = threading.Event()
    try:
        caller = asyncio.create_task(executor.run(blocking, release, 1))
        await wait_until(lambda: executor.busy == 1)
        await asyncio.sleep(0.05)  # the job has started on its thread
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert executor.busy == 1
        with pytest.raises(ServerBusy):
            await executor.run(lambda: 2)
        release.set()
        await wait_until(lambda: executor.busy == 0)
    finally:
        release.set()
        executor.shutdown()


async def test_a_failing_job_frees_its_slot_and_raises() -> None:
    executor = BoundedExecutor(workers=1, queue=0)

    def boom() -> None:
        raise ValueError("corrupt")

    try:
        with pytest.raises(ValueError, match="corrupt"):
            await executor.run(boom)
        await wait_until(lambda: executor.busy == 0)
        assert await executor.run(lambda: 1) == 1
    finally:
        executor.shutdown()


def test_it_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="worker"):
        BoundedExecutor(workers=0, queue=1)
