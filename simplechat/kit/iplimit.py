"""Fixed-window limits shared by every worker: per IP on the unauthenticated endpoints (sign
up, log in), and per account or user where a service asks (`WindowLimiter`).

`IpLimiter("10/minute")` counts requests per client address with the `limits` package's
fixed-window strategy, on a small storage of our own in the database (`ip_limits`), so the
limit means the same whatever the number of workers or instances. The app keeps one in
`app.state.ip_limiter`; routes add `dependencies=[Depends(ip_limited("token"))]`.
`WindowLimiter(limit, code=..., refusal=...)` is the same count for any key (a username, a
user id), with its own error code and message (accounts' login throttle, password checks and
avatar uploads).

Why not slowapi (in-memory) or `limits`' own MongoDB storage: slowapi checks limits with a
synchronous call on the event loop (a database round trip per login would block every other
request), and `limits`' MongoDB storage uses pipeline updates and `$not`, which the embedded
database does not implement (see DEVELOPERS.md). This storage needs only conditional
`find_one_and_update`s, `$inc`, `$set` of integers and a unique `_id`.
"""

import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import limits
from fastapi import Request
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from simplechat.documents.ip_limits import IpLimitDoc
from simplechat.kit.errors import RateLimited
from simplechat.kit.telemetry import record_limit_refusal

IP_LIMIT_CODE = "ip_limit"
MAX_ATTEMPTS = 8  # each retry means a parallel request created or renewed the window first
Collection = AsyncCollection[dict[str, Any]]


def _ip_limit_collection() -> Collection:
    return IpLimitDoc.get_pymongo_collection()


class MongoWindowStorage(Storage):
    """A `limits` storage for the fixed-window strategy on one collection.

    `incr` is exact under any parallelism: each step is one conditional update (add to a live
    window; or restart an expired one; or create a missing one, guarded by the unique `_id`),
    and the count it answers is the one that update produced.
    """

    def __init__(self, collection: Callable[[], Collection] = _ip_limit_collection) -> None:
        super().__init__()
        self._collection = collection

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return PyMongoError

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        collection = self._collection()
        for _ in range(MAX_ATTEMPTS):
            now_ms = _now_ms()
            live = await collection.find_one_and_update(
                {"_id": key, "exp_ms": {"$gt": now_ms}},
                {"$inc": {"hits": amount}},
                projection={"hits": 1},
                return_document=ReturnDocument.AFTER,
            )
            if live is not None:
                return int(live["hits"])
            window = _window(amount, now_ms, expiry)
            restarted = await collection.find_one_and_update(
                {"_id": key, "exp_ms": {"$lte": now_ms}}, {"$set": window}, projection={"_id": 1}
            )
            if restarted is not None:
                return amount
            try:
                await collection.insert_one({"_id": key, **window})
            except DuplicateKeyError:
                continue  # a parallel request created the window: add to it
            return amount
        return 2**31  # never reached in practice; counting the request as over the limit is safe

    async def get(self, key: str) -> int:
        doc = await self._collection().find_one({"_id": key, "exp_ms": {"$gt": _now_ms()}})
        return int(doc["hits"]) if doc else 0

    async def get_expiry(self, key: str) -> float:
        doc = await self._collection().find_one({"_id": key}, projection={"exp_ms": 1})
        return int(doc["exp_ms"]) / 1000 if doc else time.time()

    async def check(self) -> bool:
        try:
            await self._collection().find_one({"_id": "-"})
        except PyMongoError:
            return False
        return True

    async def reset(self) -> int | None:
        return (await self._collection().delete_many({})).deleted_count

    async def clear(self, key: str) -> None:
        await self._collection().delete_one({"_id": key})


def _now_ms() -> int:
    return math.floor(time.time() * 1000)


def _window(count: int, now_ms: int, expiry_seconds: int) -> dict[str, Any]:
    exp_ms = now_ms + expiry_seconds * 1000
    expire_at = datetime.fromtimestamp(exp_ms / 1000, UTC) + timedelta(seconds=1)
    return {"hits": count, "exp_ms": exp_ms, "expire_at": expire_at}


def client_address(request: Request) -> str:
    """The caller's address as the server sees it: uvicorn takes it from X-Forwarded-For when
    the proxy is trusted (127.0.0.1 by default; FORWARDED_ALLOW_IPS for others)."""
    return request.client.host if request.client else "unknown"


class WindowLimiter:
    """`limit` ("10/minute", or several: "10/minute;100/hour") per key and scope; over it,
    RateLimited with `code` and `refusal` (its `{limit}` names the window that refused)."""

    def __init__(
        self,
        limit: str,
        storage: Storage | None = None,
        *,
        code: str = IP_LIMIT_CODE,
        refusal: str = "Too many attempts from your address ({limit}). Try again later.",
    ) -> None:
        self._items = limits.parse_many(limit)
        self._strategy = FixedWindowRateLimiter(storage or MongoWindowStorage())
        self._code = code
        self._refusal = refusal

    async def hit(self, scope: str, key: str) -> None:
        """Count one request of `key` on `scope`; RateLimited (429) over the limit."""
        for item in self._items:
            if not await self._strategy.hit(item, scope, key):
                stats = await self._strategy.get_window_stats(item, scope, key)
                record_limit_refusal(self._code)
                raise RateLimited(
                    self._refusal.format(limit=item),
                    limit_code=self._code,
                    retry_after=math.ceil(stats.reset_time - time.time()),
                )


class IpLimiter(WindowLimiter):
    """`limit` per client address and scope (code `ip_limit`)."""


def ip_limited(scope: str, *, limiter: str = "ip_limiter") -> Callable[[Request], Awaitable[None]]:
    """A dependency that counts the request against a per-IP limit on `scope`: the app's
    `ip_limiter`, or another `IpLimiter` the app keeps in its state under `limiter`."""

    async def ip_limit(request: Request) -> None:
        chosen: IpLimiter = getattr(request.app.state, limiter)
        await chosen.hit(scope, client_address(request))

    return ip_limit
