"""TaskService against the test database, with producers of its own (it knows nothing of chat):
batching, cancel, the sweeper and its hook (called once), a reader whose task's worker died,
the reader's cap, keeping finished tasks, and the claim."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from simplechat.kit.db import open_database
from simplechat.kit.errors import NotFound
from simplechat.tasks.repository import TaskRepository
from simplechat.tasks.service import TaskService
from simplechat.tasks.types import (
    Output,
    OutputDelta,
    OutputEnd,
    OutputEvent,
    OutputIdle,
    Producer,
    Task,
    TaskPolicy,
    TaskResult,
    TaskStatus,
)

KIND = "test"
FAST = TaskPolicy(lease_seconds=1.0, flush_seconds=10.0, flush_tokens=20, poll_seconds=0.05)


class Hook:
    def __init__(self) -> None:
        self.called: list[str] = []

    async def __call__(self, task: Task) -> None:
        self.called.append(task.id)


class Services:
    """Task services on the test database (each a worker of its own), stopped afterwards."""

    def __init__(self) -> None:
        self.made: list[TaskService] = []

    def __call__(self, policy: TaskPolicy = FAST) -> tuple[TaskService, Hook]:
        tasks, hook = TaskService(repo=TaskRepository(), policy=policy), Hook()
        tasks.register(KIND, on_abandoned=hook)
        self.made.append(tasks)
        return tasks, hook


@pytest.fixture
async def service(mongo_uri: str, database_name: str) -> AsyncIterator[Services]:
    client, _ = await open_database(mongo_uri, database_name, timeout_ms=5000)
    services = Services()
    try:
        yield services
    finally:
        for made in services.made:
            await made.stop()
        await client.close()


def words(n: int, delay: float = 0.0) -> Producer:
    async def produce(output: Output) -> TaskResult:
        for i in range(n):
            await output.write(f"w{i} ")
            if delay:
                await asyncio.sleep(delay)
        return TaskResult(TaskStatus.DONE, {"finish_reason": "stop"}, cost=7)

    return produce


async def until_finished(tasks: TaskService, task_id: str) -> Task:
    for _ in range(200):
        task = await tasks.get("u", task_id)
        if task.status.finished:
            return task
        await asyncio.sleep(0.02)
    raise AssertionError(f"task {task_id} still {task.status}")


async def collect(events: AsyncIterator[OutputEvent]) -> list[OutputDelta | OutputEnd]:
    return [event async for event in events if not isinstance(event, OutputIdle)]


async def test_output_is_written_in_batches_of_flush_tokens(service: Services) -> None:
    tasks, _ = service()
    created = await tasks.create("u", KIND, {"k": 1})
    assert created.status is TaskStatus.QUEUED
    tasks.run(created.task, words(45))
    task = await until_finished(tasks, created.id)
    assert task.status is TaskStatus.DONE
    assert [len(chunk.split()) for chunk in task.chunks] == [20, 20, 5]
    assert task.text == "".join(f"w{i} " for i in range(45))
    assert (task.cost, task.final, task.payload) == (7, {"finish_reason": "stop"}, {"k": 1})
    events = await collect(await tasks.open_stream("u", created.id, None, "1"))
    assert [e.seq for e in events] == [2, 3, 4]
    assert isinstance(events[-1], OutputEnd)
    assert not events[-1].error


async def test_unknown_kinds_are_refused(service: Services) -> None:
    tasks, _ = service()
    with pytest.raises(ValueError, match="unregistered"):
        await tasks.create("u", "other", {})


async def test_cancel_stops_a_running_producer_at_its_next_flush(service: Services) -> None:
    tasks, hook = service(replace(FAST, flush_seconds=0.05))
    created = await tasks.create("u", KIND, {})
    tasks.run(created.task, words(10_000, delay=0.01))
    await asyncio.sleep(0.3)
    cancelled = await tasks.cancel("u", created.id)
    assert cancelled.status is TaskStatus.CANCELLED
    await asyncio.sleep(0.3)
    assert tasks._runner.active == 0  # the producer was stopped
    task = await tasks.get("u", created.id)
    assert task.status is TaskStatus.CANCELLED
    assert 0 < len(task.text.split()) < 100
    assert hook.called == []  # it ran: its producer gave back what it had to
    with pytest.raises(NotFound):
        await tasks.cancel("someone-else", created.id)


async def test_the_sweeper_fails_an_expired_task_once_and_calls_its_hook_once(
    service: Services,
) -> None:
    tasks, hook = service()
    other, other_hook = service()  # a second worker sweeping the same database
    dead = await tasks.create("u", KIND, {})  # never run: as if its worker died at once
    alive = await tasks.create("u", KIND, {})
    tasks.run(alive.task, words(3, delay=0.6))  # renews its lease
    await asyncio.sleep(1.3)
    failed = await asyncio.gather(tasks.sweep(), other.sweep())
    assert sorted(failed) == [0, 1]
    assert hook.called + other_hook.called == [dead.id]
    task = await tasks.get("u", dead.id)
    assert task.status is TaskStatus.FAILED
    assert task.final is not None
    assert task.final["code"] == "task_abandoned"
    assert (await until_finished(tasks, alive.id)).status is TaskStatus.DONE
    assert await tasks.sweep() == 0


async def test_a_reader_of_a_task_whose_worker_died_ends_with_an_error(
    service: Services,
) -> None:
    tasks, hook = service()
    created = await tasks.create("u", KIND, {})  # nobody runs it
    events = await asyncio.wait_for(
        collect(await tasks.open_stream("u", created.id, None, None)), 5
    )
    [end] = events
    assert isinstance(end, OutputEnd)
    assert end.error
    assert end.data["code"] == "task_abandoned"
    assert hook.called == [created.id]


async def test_a_reader_never_waits_past_its_cap(service: Services) -> None:
    tasks, _ = service(replace(FAST, lease_seconds=60, stream_max_seconds=0.3))
    created = await tasks.create("u", KIND, {})
    events = await asyncio.wait_for(
        collect(await tasks.open_stream("u", created.id, None, None)), 5
    )
    assert isinstance(events[-1], OutputEnd)
    assert events[-1].data["code"] == "stream_timeout"


async def test_the_stream_is_claimed_once_and_resumed_only_with_its_token(
    service: Services,
) -> None:
    tasks, _ = service()
    created = await tasks.create("u", KIND, {})
    tasks.run(created.task, words(5))
    await until_finished(tasks, created.id)
    first = await collect(await tasks.open_stream("u", created.id, None, None))
    assert isinstance(first[0], OutputDelta)
    with pytest.raises(Exception, match="already claimed") as refused:
        await tasks.open_stream("u", created.id, "wrong", "1")
    assert type(refused.value).__name__ == "StreamAlreadyClaimed"
    with pytest.raises(NotFound):
        await tasks.open_stream("v", created.id, created.stream_token, None)
    resumed = await collect(await tasks.open_stream("u", created.id, created.stream_token, "0"))
    assert resumed == first
    with pytest.raises(Exception, match="Last-Event-ID"):
        await tasks.open_stream("u", created.id, created.stream_token, "-3")


async def test_finished_tasks_are_deleted_after_their_keeping_time(service: Services) -> None:
    tasks, _ = service(replace(FAST, keep_seconds=1))
    done = await tasks.create("u", KIND, {})
    tasks.run(done.task, words(1))
    await until_finished(tasks, done.id)
    live = await tasks.create("u", KIND, {})
    tasks.run(live.task, words(4, delay=0.5))
    await asyncio.sleep(1.2)
    await tasks.sweep()
    with pytest.raises(NotFound):
        await tasks.get("u", done.id)
    assert (await tasks.get("u", live.id)).status is TaskStatus.RUNNING
    await until_finished(tasks, live.id)
