"""What the task service takes and gives: tasks, their outcome, the events of their stream, and
what a kind of task plugs in (its producer and its abandon hook)."""

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from simplechat.llm.types import Usage


class TaskStatus(StrEnum):
    QUEUED = "queued"  # created; waits for a free place on its worker
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the work failed, or its worker died (its lease expired)
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED})
LIVE = (TaskStatus.QUEUED, TaskStatus.RUNNING)

Payload = Mapping[str, str | int | bool | None]  # a kind's own data, flat (stored as is)


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    owner_id: str
    kind: str
    status: TaskStatus
    chunks: tuple[str, ...]  # the output, one string per batch (event ids 1..n)
    payload: Payload
    claimed: bool
    lease_ms: int
    created_at: datetime
    final: Mapping[str, Any] | None = None  # the last event's data, once finished
    usage: Usage | None = None
    cost: int = 0  # units of 1/10,000 credit
    finished_ms: int = 0
    stream_hash: str = ""

    @property
    def text(self) -> str:
        return "".join(self.chunks)


@dataclass(frozen=True, slots=True)
class CreatedTask:
    task: Task
    stream_token: str  # shown once: the only way to resume the task's stream

    @property
    def id(self) -> str:
        return self.task.id

    @property
    def status(self) -> TaskStatus:
        return self.task.status


@dataclass(frozen=True, slots=True)
class TaskResult:
    """How a producer's work ended: DONE or FAILED, with the data of the stream's last event
    (for a failure, an error body) and what the work used and cost."""

    status: TaskStatus
    final: Mapping[str, Any] = field(default_factory=dict)
    usage: Usage | None = None
    cost: int = 0


@dataclass(frozen=True, slots=True)
class OutputDelta:
    """A batch of output (its event id is `seq`)."""

    seq: int
    text: str


@dataclass(frozen=True, slots=True)
class OutputEnd:
    """The last event: the outcome's data, an error when `error` (then the stream ends)."""

    seq: int
    data: Mapping[str, Any]
    error: bool


@dataclass(frozen=True, slots=True)
class OutputIdle:
    """Nothing new for a while: the stream sends a keep-alive comment."""


OutputEvent = OutputDelta | OutputEnd | OutputIdle


class Output(Protocol):
    """What a producer writes its output to (see `tasks.runner.TaskOutput`)."""

    async def write(self, text: str) -> None: ...


Producer = Callable[[Output], Coroutine[Any, Any, TaskResult]]
# Called once when a task will never finish where it started: its worker died (its lease
# expired) or it was cancelled, or the server stopped, before it began. Undo what creating it
# took.
AbandonHook = Callable[[Task], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class TaskPolicy:
    lease_seconds: float = 30.0
    flush_seconds: float = 0.1
    flush_tokens: int = 20
    max_running: int = 100  # per worker; more wait, queued
    keep_seconds: int = 7 * 24 * 3600  # finished tasks are deleted after this (0: kept)
    stream_max_seconds: float = 1800.0  # a stream ends, with an error, after this long
    keepalive_seconds: float = 15.0
    poll_seconds: float = 0.15  # how often a stream reads the task when nothing wakes it
