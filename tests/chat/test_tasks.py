"""Chat answers as tasks, in one process: admitted and stored before 202 (a refusal is a plain
JSON error and makes no task), answered in the background and recorded as /llm/message
replies are; queued beyond the worker's places; stopped with the server (the reply stored as
cut); and the database round trips a task adds, counted over 100 parallel tasks."""

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from simplechat.config import Settings
from tests.factories import (
    COMMANDS,
    app_client,
    new_conversation,
    sign_up,
    stored_documents,
    upstream_settings,
    wait_finished,
)
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

PARALLEL = 100
FLUSH_TOKENS = 20
PRICED_MOCK = """
[[models]]
name = "mock"
price = { input = "1", output = "2" }
"""


def with_values(settings: Settings, **values: Any) -> Settings:
    return Settings(_env_file=None, **(settings.model_dump() | values))


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], conversation: str, text: str = "hi"
) -> httpx.Response:
    return await client.post(
        f"/conversations/{conversation}/tasks", json={"message": text}, headers=headers
    )


async def test_short_of_credits_is_402_and_no_task_is_made(
    settings: Settings, tmp_path: Path
) -> None:
    models = tmp_path / "models.toml"
    models.write_text(PRICED_MOCK, encoding="utf-8")
    priced = with_values(settings, credits=True, models_file=models, default_model="mock")
    async with app_client(priced) as client:
        headers = await sign_up(client, "eric")
        conversation = await new_conversation(client, headers)
        refused = await create(client, headers, conversation)
        assert refused.status_code == 402, refused.text
        assert refused.json()["code"] == "insufficient_credits"
        assert (await client.get("/tasks", headers=headers)).json()["total"] == 0
        status = (await client.get("/user/status", headers=headers)).json()
        assert status["chat_cnt"] == 0  # the quota went back
    assert await stored_documents(settings, "tasks") == []


async def test_refusals_and_bad_input_are_json_errors_before_any_task(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    missing = await create(client, auth_headers, "6b01b59ab1945f3903016ee2")
    assert missing.status_code == 404
    assert missing.json()["code"] == "conversation_not_found"
    conversation = await new_conversation(client, auth_headers)
    for body in (
        {},
        {"message": "  "},
        {"message": "hi", "stream": True},
        {"message": "hi", "persona": "x"},
    ):
        bad = await client.post(
            f"/conversations/{conversation}/tasks", json=body, headers=auth_headers
        )
        assert bad.status_code == 422, body
    unknown = await client.post(
        f"/conversations/{conversation}/tasks",
        json={"message": "hi", "model": "nope"},
        headers=auth_headers,
    )
    assert unknown.status_code in (400, 404, 422)
    for _ in range(3):  # the burst limit (3) admits three...
        assert (await create(client, auth_headers, conversation)).status_code == 202
    limited = await create(client, auth_headers, conversation)  # ...and refuses the fourth
    assert limited.status_code == 401
    assert limited.json()["code"] == "burst_limit"
    assert (await client.get("/tasks", headers=auth_headers)).json()["total"] == 3


async def test_a_failure_before_any_output_fails_the_task_and_gives_back(
    settings: Settings,
) -> None:
    async with FakeOpenRouter() as fake:
        fake.fail_next("status", status=400)
        configured = upstream_settings(
            settings, openrouter_api_key=TEST_API_KEY, openrouter_base_url=fake.base_url
        )
        async with app_client(configured) as client:
            headers = await sign_up(client, "eric")
            conversation = await new_conversation(client, headers)
            created = (await create(client, headers, conversation)).json()
            task = await wait_finished(client, headers, created["task_id"])
            assert task["status"] == "failed"
            assert task["result"]["code"] == "upstream_rejected"
            assert task["result"]["finish_reason"] == "error"
            streamed = await client.get(f"/tasks/{created['task_id']}/stream", headers=headers)
            assert "event: error" in streamed.text
            status = (await client.get("/user/status", headers=headers)).json()
            assert status["chat_cnt"] == 0
            url = f"/conversations/{conversation}/messages"
            messages = (await client.get(url, headers=headers)).json()["items"]
            assert [m["status"] for m in messages] == ["unanswered"]


async def test_beyond_the_workers_places_a_task_waits_queued_and_can_be_cancelled(
    settings: Settings,
) -> None:
    async with FakeOpenRouter() as fake:
        fake.reply = " ".join(f"w{i}" for i in range(40))
        fake.chunk_delay = 0.05
        configured = upstream_settings(
            settings,
            openrouter_api_key=TEST_API_KEY,
            openrouter_base_url=fake.base_url,
            task_max_running=1,
            read_timeout_seconds=30.0,
        )
        async with app_client(configured) as client:
            headers = await sign_up(client, "eric")
            conversation = await new_conversation(client, headers)
            first = (await create(client, headers, conversation, "first")).json()
            second = (await create(client, headers, conversation, "second")).json()
            await asyncio.sleep(0.3)
            read = await client.get(f"/tasks/{second['task_id']}", headers=headers)
            assert read.json()["status"] == "queued"
            cancelled = await client.post(f"/tasks/{second['task_id']}/cancel", headers=headers)
            assert cancelled.json()["status"] == "cancelled"
            done = await wait_finished(client, headers, first["task_id"])
            assert done["status"] == "done"
            finished = await client.post(f"/tasks/{first['task_id']}/cancel", headers=headers)
            assert finished.status_code == 409
            assert finished.json()["code"] == "task_finished"
            status = (await client.get("/user/status", headers=headers)).json()
            assert status["chat_cnt"] == 1  # the cancelled one, never answered, counts for nothing
            url = f"/conversations/{conversation}/messages"
            messages = (await client.get(url, headers=headers)).json()["items"]
            statuses = {m["content"]: m["status"] for m in messages if m["role"] == "user"}
            assert statuses == {"first": "complete", "second": "unanswered"}
            listed = (await client.get("/tasks?page_size=1", headers=headers)).json()
            assert (listed["total"], listed["items"][0]["id"]) == (2, second["task_id"])


async def test_stopping_the_server_stores_the_reply_cut_and_fails_the_task(
    settings: Settings,
) -> None:
    async with FakeOpenRouter() as fake:
        fake.reply = " ".join(f"w{i}" for i in range(100))
        fake.chunk_delay = 0.05
        configured = upstream_settings(
            settings,
            openrouter_api_key=TEST_API_KEY,
            openrouter_base_url=fake.base_url,
            read_timeout_seconds=30.0,
        )
        async with app_client(configured) as client:
            headers = await sign_up(client, "eric")
            conversation = await new_conversation(client, headers)
            created = (await create(client, headers, conversation)).json()
            await asyncio.sleep(1.0)  # about 20 words in
    [task] = await stored_documents(settings, "tasks")
    assert task["status"] == "failed"
    assert '"server_stopped"' in task["final"]
    replies = await stored_documents(settings, "messages", {"role": "assistant"})
    assert [r["status"] for r in replies] == ["incomplete"]
    assert replies[0]["text"] == "".join(task["out"])
    assert len(task["out"]) > 0
    assert created["task_id"] == task["_id"]


async def test_round_trips_per_task_over_100_parallel_tasks(settings: Settings) -> None:
    """With flushes driven by tokens alone (a long flush interval), the count is exact: the
    turn's own round trips as for a stream, plus the task's insert, its start, one update per
    20 deltas and its last update."""
    configured = with_values(
        settings,
        burst_limit=100,
        burst_window_seconds=1,
        daily_limit=1000,
        history_max_entries=1000,  # no separate read of the conversation's first messages
        task_flush_seconds=10.0,
        task_flush_tokens=FLUSH_TOKENS,
    )
    async with app_client(configured) as client:
        headers = await sign_up(client, "eric")
        conversation = await new_conversation(client, headers)
        warm = (await create(client, headers, conversation, "warm up")).json()
        warmed = await wait_finished(client, headers, warm["task_id"])
        await asyncio.sleep(1.1)  # the burst window
        COMMANDS.counts.clear()
        COMMANDS.enabled = True
        try:
            created = await asyncio.gather(
                *(create(client, headers, conversation, f"message {i}") for i in range(PARALLEL))
            )
            assert [r.status_code for r in created] == [202] * PARALLEL
            polls = 0
            while True:  # each poll is one count (`aggregate tasks`), taken off below
                polls += 1
                finished = await stored_count(configured)
                if finished == PARALLEL + 1:
                    break
                await asyncio.sleep(0.1)
        finally:
            COMMANDS.enabled = False
    counts = Counter(
        {name: n for name, n in COMMANDS.counts.items() if not name.startswith("endSessions")}
    )
    counts["aggregate tasks"] -= polls
    counts = +counts
    per_task = {name: n / PARALLEL for name, n in counts.items()}
    # One user's 100 parallel admissions race for the same document: the losers try again
    # (limits/service.py), so the admission costs one round trip or a few.
    assert per_task.pop("findAndModify users") >= 1
    deltas = len(warmed["text"].split())  # the mock streams one word per delta
    writes = 1 + deltas // FLUSH_TOKENS + 1  # start, full batches, the last update
    assert per_task.pop("insert tasks") == 1
    assert per_task.pop("update tasks") <= writes
    chat = {
        "find conversations": 1,  # the named conversation
        "insert messages": 2,  # the message, the reply
        "find messages": 1,  # the history
        "update conversations": 1,  # the totals
        "insert usage_records": 1,
    }
    assert per_task == chat, per_task


async def stored_count(settings: Settings) -> int:
    """Finished tasks, counted on the app's database (one `aggregate tasks` command)."""
    from pymongo import AsyncMongoClient

    assert settings.mongodb_uri is not None
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        return int(await client[settings.mongodb_db].tasks.count_documents({"status": "done"}))
    finally:
        await client.close()
