"""Tasks: read one, list yours, cancel one, and stream one's output (once)."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import StreamingResponse

from simplechat.accounts.dependencies import TokenOrKeyUser
from simplechat.kit.http import error_responses
from simplechat.kit.pagination import Page, PageQuery
from simplechat.kit.sse import KEEPALIVE, data, done, sse_response
from simplechat.tasks.dependencies import TaskServiceDep
from simplechat.tasks.schemas import TASK_ID_EXAMPLE, TaskPublic
from simplechat.tasks.types import OutputDelta, OutputEnd, OutputEvent

router = APIRouter(prefix="/tasks", tags=["tasks"])

TaskId = Annotated[str, Path(description="The task's id", examples=[TASK_ID_EXAMPLE])]
STREAM_EXAMPLE = (
    'id: 1\ndata: {"content": "Hello Eric!", "finish_reason": null}\n\n'
    'id: 2\ndata: {"content": " How can I help?", "finish_reason": null}\n\n'
    'id: 3\ndata: {"content": "", "finish_reason": "stop", "usage": {"prompt_tokens": 14, '
    '"completion_tokens": 8, "total_tokens": 22}, "cost": "0.0000"}\n\n'
    "id: 3\ndata: [DONE]\n\n"
)
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {"example": STREAM_EXAMPLE}},
        "description": "The output in batches (each event has an id), then the finish (or an "
        "`event: error`), then [DONE]",
    },
    **error_responses(
        401,
        404,
        409,
        422,
        descriptions={
            404: "No such task (or another user's)",
            409: "The stream was already claimed (send the stream token to resume it)",
            422: "Last-Event-ID is not an event id",
        },
    ),
}


@router.get(
    "",
    response_model=Page[TaskPublic],
    summary="List your tasks",
    responses=error_responses(401, 422),
)
async def list_tasks(
    user: TokenOrKeyUser, tasks: TaskServiceDep, page: PageQuery
) -> Page[TaskPublic]:
    """Your tasks, newest first."""
    found = await tasks.list_page(user.id, page)
    return Page.of(found, TaskPublic.from_domain)


@router.get(
    "/{task_id}",
    response_model=TaskPublic,
    summary="Read a task",
    responses=error_responses(401, 404),
)
async def read_task(task_id: TaskId, user: TokenOrKeyUser, tasks: TaskServiceDep) -> TaskPublic:
    """A task's status, its output so far and, once done, its usage and cost."""
    return TaskPublic.from_domain(await tasks.get(user.id, task_id))


@router.post(
    "/{task_id}/cancel",
    response_model=TaskPublic,
    summary="Cancel a task",
    responses=error_responses(401, 404, 409, descriptions={409: "The task already finished"}),
)
async def cancel_task(task_id: TaskId, user: TokenOrKeyUser, tasks: TaskServiceDep) -> TaskPublic:
    """Stop a queued or running task; what it wrote so far is kept."""
    return TaskPublic.from_domain(await tasks.cancel(user.id, task_id))


@router.get(
    "/{task_id}/stream",
    response_class=StreamingResponse,
    summary="Stream a task's output (once)",
    responses=STREAM_RESPONSES,
)
async def stream_task(
    task_id: TaskId,
    user: TokenOrKeyUser,
    tasks: TaskServiceDep,
    stream_token: Annotated[
        str | None, Query(description="The task's stream_token, to resume a dropped stream")
    ] = None,
    x_stream_token: Annotated[str | None, Header(description="The same, as a header")] = None,
    last_event_id: Annotated[
        str | None, Header(description="Resume after this event id (with the stream token)")
    ] = None,
) -> StreamingResponse:
    """The task's output as server-sent events from its first word: the first call claims the
    stream; resuming it takes the task's stream_token and Last-Event-ID."""
    events = await tasks.open_stream(
        user.id, task_id, stream_token or x_stream_token, last_event_id
    )
    return sse_response(_sse(events))


async def _sse(events: AsyncIterator[OutputEvent]) -> AsyncIterator[bytes]:
    """The same shapes as /llm/message/stream, each with its id."""
    async for event in events:
        match event:
            case OutputDelta(seq=seq, text=text):
                yield data({"content": text, "finish_reason": None}, event_id=seq)
            case OutputEnd(seq=seq, data=payload, error=error):
                yield data(payload, event="error" if error else None, event_id=seq)
                yield done(seq)
            case _:
                yield KEEPALIVE
