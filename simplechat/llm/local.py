"""Running the local engines (pocketsphinx, RapidOCR) off the event loop, a few at a time.

Jobs run in a pool of worker processes, each of which loads its models once (see
`local_jobs`): a local engine never holds the event loop, nor the GIL chat needs. One pool
serves the whole process and lives as long as it does, so the models are loaded once per
process, not once per application instance; the pool is made on the first local job, and
each worker ends itself when the server process is gone (`local_jobs.watch_parent`).

`LocalRunner.run` is the concurrency cap: at most `workers` jobs at once per application. A
request that waits longer than `queue_seconds` for a turn gets ServerBusy (503). The slot is
held until the job really ends, even when the request that started it was abandoned.

The workers are started with `spawn`, which imports the program's main module again: a script
that serves the app itself must do so under `if __name__ == "__main__":` (`simplechat serve`
and `uvicorn simplechat.app:create_app` do).
"""

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from simplechat.kit.errors import ServerBusy, UpstreamError
from simplechat.llm import local_jobs
from simplechat.llm.local_jobs import LocalJobError

log = logging.getLogger("simplechat.media")

T = TypeVar("T")
LOCAL_EXTRA_HINT = 'pip install "simplechat[local-media]"'

_pool: concurrent.futures.ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def installed(*modules: str) -> bool:
    """Whether every module can be imported (without importing it)."""
    return all(importlib.util.find_spec(name) is not None for name in modules)


def _shared_pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            # spawn: a fork of a process running an event loop and threads is not safe.
            context = multiprocessing.get_context("spawn")
            _pool = concurrent.futures.ProcessPoolExecutor(
                workers,
                mp_context=context,
                initializer=local_jobs.watch_parent,
                initargs=(os.getpid(),),
            )
        return _pool


def _discard_pool(broken: concurrent.futures.ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


class LocalEngineFailed(UpstreamError):
    code = "local_engine_failed"


class LocalRunner:
    def __init__(self, *, workers: int, queue_seconds: float) -> None:
        self._workers = workers
        self._queue_seconds = queue_seconds
        self._slots = asyncio.Semaphore(workers)

    async def run(self, label: str, job: Callable[..., T], *args: Any) -> T:
        """`job(*args)` in a worker process. `label` names the engine in errors."""
        try:
            await asyncio.wait_for(self._slots.acquire(), self._queue_seconds)
        except TimeoutError:
            raise ServerBusy(
                f"The local {label} engine is busy with other requests; try again shortly."
            ) from None
        loop = asyncio.get_running_loop()
        pool = _shared_pool(self._workers)
        try:
            future = pool.submit(job, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: _call_soon(loop, self._slots.release))
        try:
            return await asyncio.wrap_future(future)
        except LocalJobError as exc:
            raise LocalEngineFailed(str(exc), extra={"provider": label}) from None
        except BrokenProcessPool:
            log.error("media.local_engine.crashed engine=%s", label)
            _discard_pool(pool)
            raise LocalEngineFailed(
                f"The local {label} engine stopped unexpectedly; try again.",
                extra={"provider": label},
            ) from None


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
    with contextlib.suppress(RuntimeError):  # the application (and its loop) ended meanwhile
        loop.call_soon_threadsafe(callback)
