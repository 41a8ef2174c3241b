"""A bounded executor of its own for CPU-heavy decoding (images, audio).

Decoding an upload (an avatar of up to 40 megapixels, a picture for OCR, a recording) takes
tens to hundreds of milliseconds of CPU and several full copies of the pixels or samples. On
the default thread pool (`asyncio.to_thread`) it would share the threads that password hashing
and token counting use: a burst of uploads would make logins and chat wait behind it. So
decoding runs here: `workers` threads of its own, and at most `queue` jobs waiting for one;
a job beyond that is refused at once with 503 `server_busy` (and Retry-After), rather than
queued without bound.

A slot is held until the job's thread has finished, not until its caller stops waiting: a
cancelled request (a client that left) does not free room for more work while its decoding
still runs.
"""

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from simplechat.kit.errors import ServerBusy

T = TypeVar("T")
RETRY_AFTER_SECONDS = 1


def busy() -> ServerBusy:
    return ServerBusy(
        "The server is decoding as many uploads as it is configured for; try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        extra={"retry_after": RETRY_AFTER_SECONDS},
    )


DECODER_BUSY = busy()  # for the API docs


class BoundedExecutor:
    def __init__(self, *, workers: int, queue: int, name: str = "decode") -> None:
        if workers < 1 or queue < 0:
            raise ValueError("a bounded executor needs at least one worker and a queue >= 0")
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"simplechat-{name}"
        )
        self._capacity = workers + queue
        self._taken = 0
        self._lock = threading.Lock()  # jobs finish on the pool's threads
        self.name = name

    @property
    def capacity(self) -> int:
        """Jobs running or waiting at most."""
        return self._capacity

    @property
    def busy(self) -> int:
        """Jobs running or waiting now."""
        return self._taken

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on one of the executor's threads; ServerBusy (503) when
        `workers` jobs run and `queue` more wait already."""
        with self._lock:
            if self._taken >= self._capacity:
                raise busy()
            self._taken += 1
        try:
            future = self._pool.submit(functools.partial(fn, *args, **kwargs))
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: self._release())
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        with self._lock:
            self._taken -= 1

    def shutdown(self) -> None:
        """Stop taking jobs; running ones finish on their own threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
