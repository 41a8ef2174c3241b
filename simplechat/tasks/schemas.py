"""Task wire models: what GET /tasks and GET /tasks/{id} return."""

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from simplechat.tasks.types import Task, TaskStatus

# Costs are stored in units of 1/10,000 credit, as billing counts them, and shown with 4 places.
FOUR_PLACES = Decimal("0.0001")
UNITS_PER_CREDIT = 10_000
TASK_ID_EXAMPLE = "3f0c2a9e8b7d4c1fa6e5d4c3b2a19080"


class TaskUsage(BaseModel):
    prompt_tokens: int = Field(examples=[24])
    completion_tokens: int = Field(examples=[10])
    total_tokens: int = Field(examples=[34])


class TaskPublic(BaseModel):
    id: str = Field(examples=[TASK_ID_EXAMPLE])
    kind: str = Field(examples=["chat"], description="What the task does")
    status: Literal["queued", "running", "done", "failed", "cancelled"] = Field(
        examples=["running"]
    )
    text: str = Field(
        examples=["Hello Eric! How can"], description="The output so far (all of it once done)"
    )
    usage: TaskUsage | None = Field(default=None, description="Once done (null before)")
    cost: Decimal = Field(
        examples=["0.0012"], description="Credits it cost (4 decimal places), once done"
    )
    result: dict[str, Any] | None = Field(
        default=None,
        description="The stream's last event: the finish (usage, finish_reason, model) when "
        "done, the error (error, code, detail) when failed or cancelled",
    )
    stream_claimed: bool = Field(description="Its one stream was claimed (GET /tasks/{id}/stream)")
    created_at: datetime
    finished_at: datetime | None = None

    @classmethod
    def from_domain(cls, task: Task) -> "TaskPublic":
        usage = task.usage
        cost = (Decimal(task.cost) / UNITS_PER_CREDIT).quantize(FOUR_PLACES, ROUND_HALF_UP)
        finished = task.status in (TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED)
        return cls(
            id=task.id,
            kind=task.kind,
            status=task.status.value,
            text=task.text,
            usage=None
            if usage is None
            else TaskUsage(
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                total_tokens=usage.total_tokens,
            ),
            cost=cost,
            result=dict(task.final) if task.final else None,
            stream_claimed=task.claimed,
            created_at=task.created_at,
            finished_at=datetime.fromtimestamp(task.finished_ms / 1000, UTC)
            if finished and task.finished_ms
            else None,
        )
