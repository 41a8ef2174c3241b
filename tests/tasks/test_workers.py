"""Tasks across two `simplechat serve` processes on two ports sharing one database: created on
one worker and streamed from the other, claimed once, resumed after a cut without losing a
word, completed after its client left, cancelled, and failed within its lease (its quota and
credits given back, a waiting reader told) when the worker answering it is killed."""

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import Served, parse_sse, running_server, sign_up
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

LEASE_SECONDS = 3
WORDS = 60
# One credit per 1,000 output tokens: a hold (the model's 4096 reserved tokens) is 4.096 credits.
PRICED_MISTRAL = """
[[models]]
name = "mistralai/mistral-7b-instruct"
price = { input = "0", output = "1" }
"""


@dataclass
class Cluster:
    first: Served
    second: Served
    upstream: FakeOpenRouter


@contextmanager
def two_servers(
    data_dir: Path, mongo_uri: str, database: str, upstream: FakeOpenRouter
) -> Iterator[tuple[Served, Served]]:
    models = data_dir / "models.toml"
    models.write_text(PRICED_MISTRAL, encoding="utf-8")
    env = {
        "OPENROUTER_API_KEY": TEST_API_KEY,
        "OPENROUTER_BASE_URL": upstream.base_url,
        "SIMPLECHAT_MODELS_FILE": str(models),
        "SIMPLECHAT_CREDITS": "on",
        "SIMPLECHAT_SIGNUP_CREDITS": "100",
        "SIMPLECHAT_TASK_LEASE_SECONDS": str(LEASE_SECONDS),
        "SIMPLECHAT_READ_TIMEOUT_SECONDS": "30",
        "SIMPLECHAT_BURST_LIMIT": "20",
    }
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                running_server(data_dir, mongo_uri=mongo_uri, database=database, workers=1, **env)
            )
            for _ in range(2)
        ]
        yield servers[0], servers[1]


@pytest.fixture
async def cluster(mongo_uri: str, database_name: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    async with FakeOpenRouter() as upstream:
        upstream.reply = " ".join(f"word{i}" for i in range(1, WORDS + 1))
        upstream.chunk_delay = 0.05  # 3 s per answer
        # Starting the servers blocks this loop for a moment; the upstream is idle meanwhile.
        with two_servers(tmp_path, mongo_uri, database_name, upstream) as (first, second):
            yield Cluster(first, second, upstream)


async def account(base: str, username: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        return await sign_up(client, username)


async def start_task(
    client: httpx.AsyncClient, base: str, headers: dict[str, str], text: str = "hi"
) -> tuple[str, dict[str, Any]]:
    conversation = (await client.post(f"{base}/conversations", json={}, headers=headers)).json()
    created = await client.post(
        f"{base}/conversations/{conversation['id']}/tasks", json={"message": text}, headers=headers
    )
    assert created.status_code == 202, created.text
    return conversation["id"], created.json()


async def read_events(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    *,
    stop_after: int | None = None,
) -> list[dict[str, Any]]:
    """The stream's events (all of them, or the first `stop_after` then hang up)."""
    events: list[dict[str, Any]] = []
    async with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        block: list[str] = []
        async for line in response.aiter_lines():
            if line:
                block.append(line)
                continue
            events.extend(parse_sse("\n".join(block)))
            block = []
            if stop_after is not None and len(events) >= stop_after:
                break
    return events


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(
        e["data"]["content"]
        for e in events
        if isinstance(e["data"], dict) and e["event"] == "message"
    )


async def stored_reply(
    client: httpx.AsyncClient, base: str, headers: dict[str, str], conversation: str
) -> list[dict[str, Any]]:
    url = f"{base}/conversations/{conversation}/messages"
    for _ in range(100):
        items: list[dict[str, Any]] = (await client.get(url, headers=headers)).json()["items"]
        if len(items) == 2:
            return items
        await asyncio.sleep(0.1)
    raise AssertionError(f"no reply stored: {items}")


async def test_created_on_one_worker_streamed_from_the_other_once_and_resumed(
    cluster: Cluster,
) -> None:
    a, b = cluster.first.base, cluster.second.base
    async with httpx.AsyncClient(timeout=30) as client:
        headers = await account(a, "eric")
        conversation, created = await start_task(client, a, headers)
        task_id, token = created["task_id"], created["stream_token"]

        first = await read_events(client, f"{b}/tasks/{task_id}/stream", headers, stop_after=3)
        assert [int(e["id"]) for e in first] == [1, 2, 3]

        for base in (a, b):  # a second claim, on either worker, without the token
            again = await client.get(f"{base}/tasks/{task_id}/stream", headers=headers)
            assert again.status_code == 409
            assert again.json()["code"] == "stream_already_claimed"
        wrong = await client.get(
            f"{a}/tasks/{task_id}/stream", headers={**headers, "X-Stream-Token": "guess"}
        )
        assert wrong.status_code == 409
        other = await account(a, "mallory")
        stolen = await client.get(f"{b}/tasks/{task_id}/stream?stream_token={token}", headers=other)
        assert stolen.status_code == 404

        resume = {**headers, "X-Stream-Token": token, "Last-Event-ID": first[-1]["id"]}
        rest = await read_events(client, f"{a}/tasks/{task_id}/stream", resume)
        assert int(rest[0]["id"]) == 4
        assert rest[-1]["data"] == "[DONE]"
        assert rest[-2]["data"]["finish_reason"] == "stop"
        streamed = text_of(first) + text_of(rest)

        _, reply = await stored_reply(client, b, headers, conversation)
        assert reply["content"] == streamed == cluster.upstream.reply
        task = (await client.get(f"{b}/tasks/{task_id}", headers=headers)).json()
        assert (task["status"], task["text"]) == ("done", streamed)
        assert task["usage"]["completion_tokens"] == WORDS
        assert task["cost"] == reply["cost"] == "0.0600"  # 60 tokens at 1 credit per 1,000
        assert (await client.get(f"{a}/tasks/{task_id}", headers=other)).status_code == 404


async def test_the_task_completes_after_its_client_left(cluster: Cluster) -> None:
    a, b = cluster.first.base, cluster.second.base
    async with httpx.AsyncClient(timeout=30) as client:
        headers = await account(a, "eric")
        conversation, created = await start_task(client, b, headers, "are you still there?")
        url = f"{a}/tasks/{created['task_id']}/stream"
        await read_events(client, url, headers, stop_after=1)  # the client hangs up

        user, reply = await stored_reply(client, a, headers, conversation)
        assert (user["content"], reply["content"]) == (
            "are you still there?",
            cluster.upstream.reply,
        )
        assert reply["status"] == "complete"
        history = (await client.get(f"{b}/user/history/2", headers=headers)).json()
        assert history[-1] == {"type": "ai", "text": cluster.upstream.reply}
        credits = (await client.get(f"{a}/user/credits", headers=headers)).json()
        assert credits["on_hold"] == "0.0000"


async def test_cancel_stops_the_answer_and_keeps_what_was_written(cluster: Cluster) -> None:
    a, b = cluster.first.base, cluster.second.base
    async with httpx.AsyncClient(timeout=30) as client:
        headers = await account(a, "eric")
        conversation, created = await start_task(client, a, headers)
        task_id = created["task_id"]
        reading = asyncio.create_task(read_events(client, f"{b}/tasks/{task_id}/stream", headers))
        await asyncio.sleep(1.0)
        cancelled = await client.post(f"{b}/tasks/{task_id}/cancel", headers=headers)
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        events = await asyncio.wait_for(reading, 10)
        assert events[-2]["event"] == "error"
        assert events[-2]["data"]["code"] == "task_cancelled"

        _, reply = await stored_reply(client, a, headers, conversation)
        assert reply["status"] == "incomplete"
        assert 0 < len(reply["content"]) < WORDS * len(" word00")
        for _ in range(50):  # the worker's last update lands a moment after the cancel
            task = (await client.get(f"{a}/tasks/{task_id}", headers=headers)).json()
            if task["text"] == reply["content"]:
                break
            await asyncio.sleep(0.1)
        assert task["status"] == "cancelled"
        assert task["text"] == reply["content"]
        again = await client.post(f"{a}/tasks/{task_id}/cancel", headers=headers)
        assert again.json()["status"] == "cancelled"


async def test_a_killed_worker_fails_its_task_within_the_lease_and_gives_back(
    cluster: Cluster,
) -> None:
    a, b = cluster.first, cluster.second.base
    cluster.upstream.chunk_delay = 0.2  # 12 s: the worker is killed long before the end
    async with httpx.AsyncClient(timeout=30) as client:
        headers = await account(b, "eric")
        before = (await client.get(f"{b}/user/status", headers=headers)).json()["chat_cnt"]
        conversation, created = await start_task(client, a.base, headers)
        task_id = created["task_id"]
        assert (await client.get(f"{b}/user/status", headers=headers)).json()["chat_cnt"] == 1
        held = (await client.get(f"{b}/user/credits", headers=headers)).json()
        assert held["on_hold"] != "0.0000"

        reading = asyncio.create_task(read_events(client, f"{b}/tasks/{task_id}/stream", headers))
        await asyncio.sleep(1.0)
        os.kill(a.process.pid, signal.SIGKILL)  # the server this test started, by its PID
        killed_at = time.monotonic()
        events = await asyncio.wait_for(reading, LEASE_SECONDS * 3)
        noticed = time.monotonic() - killed_at
        assert noticed < LEASE_SECONDS + 2, noticed
        assert events[-2]["event"] == "error"
        assert events[-2]["data"]["code"] == "task_abandoned"
        assert events[-1]["data"] == "[DONE]"
        assert len(text_of(events)) > 0  # the words written before the kill were streamed

        task = (await client.get(f"{b}/tasks/{task_id}", headers=headers)).json()
        assert task["status"] == "failed"
        assert task["result"]["code"] == "task_abandoned"
        status = (await client.get(f"{b}/user/status", headers=headers)).json()
        assert status["chat_cnt"] == before  # the quota is back
        credits = (await client.get(f"{b}/user/credits", headers=headers)).json()
        assert (credits["on_hold"], credits["available"]) == ("0.0000", "100.0000")
        url = f"{b}/conversations/{conversation}/messages"
        messages = (await client.get(url, headers=headers)).json()["items"]
        assert [(m["role"], m["status"]) for m in messages] == [("user", "unanswered")]
        listed = (await client.get(f"{b}/conversations/{conversation}", headers=headers)).json()
        assert listed["message_count"] == 1
