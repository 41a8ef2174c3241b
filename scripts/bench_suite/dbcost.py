"""What each database command of a chat message costs the embedded server, one at a time.

The commands have the shapes simplechat's repositories send (`limits/repository.py`,
`chat/repository.py`): the find-and-modify that admits a message on the user's document (its
burst counters included), the insert of a message (with the collection's two indexes), and the
history read (the newest 101 whole messages of a range of `history_key`). `ping` is the floor:
a command that does nothing. Each runs `REPEATS` times after a warm-up; the database's CPU
(its scheduler's account, in nanoseconds) is read around them, and the client's own CPU (this
process, mostly pymongo) alongside. A raw socket round trip of the same `find` by `_id`, sent
and decoded with bson alone, shows what the driver's machinery adds.
"""

import asyncio
import struct
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import bson
from bson import ObjectId
from pymongo import DESCENDING, AsyncMongoClient, ReturnDocument

from bench_suite.procstat import cpu_ns

REPEATS = 300
WARMUP = 30
HISTORY = 150  # messages stored before measuring; a read takes the newest 101
BURST_SLOTS = 30  # as the bench's users (stack.simplechat_env)
OP_MSG = 2013


def _message(owner: str) -> dict[str, Any]:
    oid, now = ObjectId(), datetime.now(UTC)
    return {
        "_id": oid,
        "history_key": f"{owner}:{int(now.timestamp() * 1000):013d}:{oid}",
        "owner_id": owner,
        "role": "user",
        "text": "hi, how are you today?",
        "tokens": 7,
        "chars": 22,
        "model": "bench-model",
        "kind": "plain",
        "status": "sent",
        "created_at": now,
        "reply_to": None,
        "usage": None,
        "error_code": None,
    }


async def _measure(db_pid: int, op: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """(database ms, client ms) of CPU per call."""
    for _ in range(WARMUP):
        await op()
    db, client = cpu_ns(db_pid), time.process_time()
    for _ in range(REPEATS):
        await op()
    return (cpu_ns(db_pid) - db) / 1e6 / REPEATS, (time.process_time() - client) * 1e3 / REPEATS


async def _raw_round_trip(uri: str, database: str, user_id: ObjectId) -> float:
    """Client CPU ms of a `find` by _id over a bare socket, encoded and decoded with bson."""
    host, port = uri.split("//", 1)[1].strip("/").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    command = {"find": "users", "filter": {"_id": user_id}, "limit": 1, "$db": database}
    body = struct.pack("<I", 0) + b"\x00" + bson.encode(command)

    async def once(request_id: int) -> None:
        writer.write(struct.pack("<iiii", 16 + len(body), request_id, 0, OP_MSG) + body)
        header = await reader.readexactly(16)
        reply = await reader.readexactly(struct.unpack("<i", header[:4])[0] - 16)
        bson.decode(reply[5:])

    for n in range(WARMUP):
        await once(n)
    started = time.process_time()
    for n in range(REPEATS):
        await once(n)
    writer.close()
    return (time.process_time() - started) * 1e3 / REPEATS


async def _run(uri: str, db_pid: int) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    db = client["bench_dbcost"]
    users, messages = db["users"], db["messages"]
    await messages.create_index("history_key")
    await messages.create_index("owner_id")
    user_id = ObjectId()
    slots = {f"s{k}": 0 for k in range(BURST_SLOTS)}
    await users.insert_one(
        {"_id": user_id, "username": "dbcost", "role": "user", "disabled": False,
         "password_hash": "$argon2id$" + "h" * 88, "created_at": datetime.now(UTC),
         "lim": {"day": "2026-01-01", "count": 0, **slots}}
    )  # fmt: skip
    owner = str(user_id)
    await messages.insert_many([_message(owner) for _ in range(HISTORY)])
    history = {"history_key": {"$gte": f"{owner}:", "$lt": f"{owner};"}}
    fields = {"username": 1, "role": 1, "created_at": 1, "lim": 1}

    def admit() -> Awaitable[Any]:
        now_ms = int(time.time() * 1000)
        query = {"_id": user_id, "disabled": False, "lim.s0": {"$lte": now_ms}}
        return users.find_one_and_update(
            {**query, "lim.count": {"$gte": 0}},
            {"$set": {"lim.s0": now_ms}, "$inc": {"lim.count": 1}},
            projection=fields,
            return_document=ReturnDocument.BEFORE,
        )

    def read_history() -> Awaitable[Any]:
        cursor = messages.find(history).sort("history_key", DESCENDING).limit(101).batch_size(101)
        return cursor.to_list()

    ops: dict[str, Callable[[], Awaitable[Any]]] = {
        "ping": lambda: db.command("ping"),
        "findAndModify users (admit a message)": admit,
        "insert messages (a message or a reply)": lambda: messages.insert_one(_message(owner)),
        "find messages (the newest 101, whole)": read_history,
    }
    results = {}
    for name, op in ops.items():
        db_ms, client_ms = await _measure(db_pid, op)
        results[name] = {"db_ms": db_ms, "client_ms": client_ms}
    results["raw socket find by _id (no driver)"] = {
        "db_ms": None,
        "client_ms": await _raw_round_trip(uri, "bench_dbcost", user_id),
    }
    await client.drop_database("bench_dbcost")
    await client.close()
    return results


def run(uri: str, db_pid: int) -> dict[str, Any]:
    return asyncio.run(_run(uri, db_pid))


def lines(costs: dict[str, Any]) -> list[str]:
    out = ["", "### What each database command costs", ""]
    out.append(
        "One command at a time, as the repositories send it; CPU per command of the embedded "
        "server and of the client (pymongo's share of simplechat's own CPU)."
    )
    out += ["", "| command | database CPU ms | client CPU ms |", "|---|---|---|"]
    for name, row in costs.items():
        db = "-" if row["db_ms"] is None else f"{row['db_ms']:.3f}"
        out.append(f"| {name} | {db} | {row['client_ms']:.3f} |")
    return out
