"""TaskRepository: the `tasks` collection.

Every change of status is one conditional update naming the status it leaves, so two workers
(or a worker and the sweeper, or a user's cancel) never both win: start (queued -> running),
every output flush (only while running: a cancelled or expired task refuses it, which is how
its worker learns to stop), finish, cancel, expire, and the stream's claim (claimed false ->
true). Lookups by a user name the owner too, so another user's task reads as missing.
"""

import json
from datetime import datetime
from typing import Any

from pymongo import DESCENDING, ReturnDocument

from simplechat.documents.tasks import TaskDoc
from simplechat.llm.types import Usage
from simplechat.tasks.types import Payload, Task, TaskResult, TaskStatus


def _list_range(owner_id: str) -> dict[str, Any]:
    return {"$gte": f"{owner_id}:", "$lt": f"{owner_id};"}


def _task(raw: dict[str, Any]) -> Task:
    usage = None
    if raw.get("has_usage"):
        usage = Usage(
            prompt_tokens=int(raw.get("prompt_tokens") or 0),
            completion_tokens=int(raw.get("completion_tokens") or 0),
        )
    final = raw.get("final") or ""
    return Task(
        id=raw["_id"],
        owner_id=raw["owner_id"],
        kind=raw["kind"],
        status=TaskStatus(raw["status"]),
        chunks=tuple(raw.get("out") or ()),
        payload=dict(raw.get("payload") or {}),
        claimed=bool(raw.get("claimed")),
        lease_ms=int(raw.get("lease_ms") or 0),
        created_at=raw["created_at"],
        final=json.loads(final) if final else None,
        usage=usage,
        cost=int(raw.get("cost") or 0),
        finished_ms=int(raw.get("finished_ms") or 0),
        stream_hash=raw.get("stream_hash") or "",
    )


def _outcome(result: TaskResult, now_ms: int) -> dict[str, Any]:
    usage = result.usage
    return {
        "final": json.dumps(dict(result.final), ensure_ascii=False),
        "has_usage": usage is not None,
        "prompt_tokens": usage.prompt_tokens if usage else 0,
        "completion_tokens": usage.completion_tokens if usage else 0,
        "cost": result.cost,
        "finished_ms": now_ms,
    }


class TaskRepository:
    @staticmethod
    def _collection() -> Any:
        return TaskDoc.get_pymongo_collection()

    async def insert(
        self,
        *,
        task_id: str,
        owner_id: str,
        kind: str,
        stream_hash: str,
        payload: Payload,
        lease_ms: int,
        created_at: datetime,
        worker: str,
    ) -> Task:
        created_ms = int(created_at.timestamp() * 1000)
        raw: dict[str, Any] = {
            "_id": task_id,
            "owner_id": owner_id,
            "kind": kind,
            "status": TaskStatus.QUEUED.value,
            "stream_hash": stream_hash,
            "claimed": False,
            "payload": dict(payload),
            "out": [],
            "lease_ms": lease_ms,
            "worker": worker,
            "final": "",
            "has_usage": False,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cost": 0,
            "created_at": created_at,
            "finished_ms": 0,
            "list_key": f"{owner_id}:{created_ms:013d}:{task_id}",
        }
        await self._collection().insert_one(raw)
        return _task(raw)

    async def get(self, task_id: str) -> Task | None:
        raw = await self._collection().find_one({"_id": task_id})
        return None if raw is None else _task(raw)

    async def get_owned(self, owner_id: str, task_id: str) -> Task | None:
        raw = await self._collection().find_one({"_id": task_id, "owner_id": owner_id})
        return None if raw is None else _task(raw)

    async def claim(self, owner_id: str, task_id: str) -> Task | None:
        """Claim the task's one stream; None when it is not the owner's or already claimed."""
        raw = await self._collection().find_one_and_update(
            {"_id": task_id, "owner_id": owner_id, "claimed": False},
            {"$set": {"claimed": True}},
            return_document=ReturnDocument.AFTER,
        )
        return None if raw is None else _task(raw)

    async def renew_queued(self, task_id: str, lease_ms: int) -> bool:
        """A task still waiting for its turn is still wanted: renew its lease."""
        return await self._move(task_id, TaskStatus.QUEUED, {"lease_ms": lease_ms})

    async def start(self, task_id: str, lease_ms: int, worker: str) -> bool:
        fields = {"status": TaskStatus.RUNNING.value, "lease_ms": lease_ms, "worker": worker}
        return await self._move(task_id, TaskStatus.QUEUED, fields)

    async def append(self, task_id: str, text: str, lease_ms: int) -> bool:
        """Add one batch of output (none: only renew the lease); False when the task is no
        longer running (cancelled, or failed by the sweeper): its worker stops."""
        update: dict[str, Any] = {"$set": {"lease_ms": lease_ms}}
        if text:
            update["$push"] = {"out": text}
        result = await self._collection().update_one(
            {"_id": task_id, "status": TaskStatus.RUNNING.value}, update
        )
        return bool(result.matched_count == 1)

    async def finish(self, task_id: str, result: TaskResult, text: str, now_ms: int) -> bool:
        """Record the outcome of a running task (and its last output); False when it was not
        running any more (cancelled meanwhile: see `settle_cancelled`)."""
        update: dict[str, Any] = {
            "$set": {"status": result.status.value, **_outcome(result, now_ms)}
        }
        if text:
            update["$push"] = {"out": text}
        done = await self._collection().update_one(
            {"_id": task_id, "status": TaskStatus.RUNNING.value}, update
        )
        return bool(done.matched_count == 1)

    async def settle_cancelled(
        self, task_id: str, result: TaskResult, text: str, now_ms: int
    ) -> None:
        """A cancelled task's last output, usage and cost (it stays cancelled)."""
        update: dict[str, Any] = {"$set": _outcome(result, now_ms)}
        if text:
            update["$push"] = {"out": text}
        await self._collection().update_one(
            {"_id": task_id, "status": TaskStatus.CANCELLED.value}, update
        )

    async def cancel(
        self, owner_id: str, task_id: str, status: TaskStatus, now_ms: int
    ) -> Task | None:
        """Cancel the owner's task if it is still `status`: the task as it was cancelled."""
        raw = await self._collection().find_one_and_update(
            {"_id": task_id, "owner_id": owner_id, "status": status.value},
            {"$set": {"status": TaskStatus.CANCELLED.value, "finished_ms": now_ms}},
            return_document=ReturnDocument.AFTER,
        )
        return None if raw is None else _task(raw)

    async def fail_live(
        self, task_id: str, status: TaskStatus, final: dict[str, Any], now_ms: int, *,
        expired_before: int | None = None, rest: str = "",
    ) -> Task | None:  # fmt: skip
        """Fail a live task that is still `status` (and, for the sweeper, whose lease ran out
        before `expired_before`), adding its last output `rest`: the task as it was failed,
        or None if it moved on."""
        query: dict[str, Any] = {"_id": task_id, "status": status.value}
        if expired_before is not None:
            query["lease_ms"] = {"$lt": expired_before}
        fields = {
            "status": TaskStatus.FAILED.value,
            "final": json.dumps(final, ensure_ascii=False),
            "finished_ms": now_ms,
        }
        update: dict[str, Any] = {"$set": fields}
        if rest:
            update["$push"] = {"out": rest}
        raw = await self._collection().find_one_and_update(
            query, update, return_document=ReturnDocument.AFTER
        )
        return None if raw is None else _task(raw)

    async def expired(self, status: TaskStatus, now_ms: int, limit: int) -> list[Task]:
        """Live tasks in `status` whose lease ran out (few: only live tasks match `status`)."""
        cursor = self._collection().find({"status": status.value, "lease_ms": {"$lt": now_ms}})
        return [_task(raw) async for raw in cursor.limit(limit)]

    async def page(self, owner_id: str, *, skip: int, limit: int) -> tuple[list[Task], int]:
        query = {"list_key": _list_range(owner_id)}
        cursor = self._collection().find(query).sort("list_key", DESCENDING)
        items = [_task(raw) async for raw in cursor.skip(skip).limit(limit)]
        return items, await self._collection().count_documents(query)

    async def delete_finished_before(self, before_ms: int) -> int:
        result = await self._collection().delete_many({"finished_ms": {"$gt": 0, "$lt": before_ms}})
        return int(result.deleted_count)

    async def delete_owner(self, owner_id: str) -> None:
        await self._collection().delete_many({"list_key": _list_range(owner_id)})

    async def _move(self, task_id: str, status: TaskStatus, fields: dict[str, Any]) -> bool:
        result = await self._collection().update_one(
            {"_id": task_id, "status": status.value}, {"$set": fields}
        )
        return bool(result.matched_count == 1)
