"""Conversations: create, list, read, rename, delete, export, and answer again."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response, StreamingResponse

from simplechat.accounts.dependencies import TokenOrKeyUser
from simplechat.chat.conversation_schemas import (
    ConversationCreate,
    ConversationDeleted,
    ConversationDetail,
    ConversationExport,
    ConversationPublic,
    ConversationUpdate,
    MessagePublic,
    RegenerateRequest,
)
from simplechat.chat.dependencies import ChatServiceDep, ConversationServiceDep
from simplechat.chat.events import simple_events
from simplechat.chat.export import to_markdown
from simplechat.chat.router import CHAT_RESPONSES, to_response
from simplechat.chat.schemas import MessageResponse, TaskCreated, TaskRequest
from simplechat.chat.types import ChatRequest, Persona, Sampling
from simplechat.keys.dependencies import CurrentCaller
from simplechat.kit.http import error_responses
from simplechat.kit.pagination import Page, PageQuery
from simplechat.kit.sse import sse_response

router = APIRouter(prefix="/conversations", tags=["conversations"])

ConversationId = Annotated[
    str, Path(description="The conversation's id", examples=["6b01b59ab1945f3903016ee2"])
]
TitleSearch = Annotated[
    str | None,
    Query(max_length=100, description="Only titles containing this text (any case)"),
]
EXPORT_RESPONSES = {
    200: {
        "content": {
            "text/markdown": {"example": "# Planning a trip to Lyon\n\n## You · ...\n"},
            "application/json": {},
        },
        "description": "Markdown (format=markdown, the default) or JSON (format=json)",
    },
    **error_responses(401, 404, 422),
}


@router.post(
    "",
    status_code=201,
    response_model=ConversationPublic,
    summary="Create a conversation",
    responses=error_responses(401, 404, 422, descriptions={404: "No such preset"}),
)
async def create_conversation(
    body: ConversationCreate, user: TokenOrKeyUser, conversations: ConversationServiceDep
) -> ConversationPublic:
    """Start a conversation, from a preset (its prompt and parameters) if you name one."""
    created = await conversations.create(
        user.id, title=body.title, preset_id=body.preset_id, model=body.model
    )
    return ConversationPublic.from_domain(created)


@router.get(
    "",
    response_model=Page[ConversationPublic],
    summary="List your conversations",
    responses=error_responses(401, 422),
)
async def list_conversations(
    user: TokenOrKeyUser,
    conversations: ConversationServiceDep,
    page: PageQuery,
    q: TitleSearch = None,
) -> Page[ConversationPublic]:
    """Your conversations, most recently updated first; `q` keeps those whose title contains it."""
    found = await conversations.list_page(user.id, page, q)
    return Page.of(found, ConversationPublic.from_domain)


@router.get(
    "/{conversation_id}",
    response_model=ConversationDetail,
    summary="Read a conversation",
    responses=error_responses(401, 404),
)
async def read_conversation(
    conversation_id: ConversationId, user: TokenOrKeyUser, conversations: ConversationServiceDep
) -> ConversationDetail:
    """A conversation with its totals and the first page of its messages."""
    found = await conversations.read(user.id, conversation_id)
    first = Page.of(found.messages, MessagePublic.from_domain)
    public = ConversationPublic.from_domain(found.conversation)
    return ConversationDetail(**public.model_dump(), messages=first)


@router.patch(
    "/{conversation_id}",
    response_model=ConversationPublic,
    summary="Rename or set up a conversation",
    responses=error_responses(401, 404, 422),
)
async def update_conversation(
    conversation_id: ConversationId,
    body: ConversationUpdate,
    user: TokenOrKeyUser,
    conversations: ConversationServiceDep,
) -> ConversationPublic:
    """Change a conversation's title, model or sampling parameters (null: the default)."""
    updated = await conversations.update(user.id, conversation_id, body.changes())
    return ConversationPublic.from_domain(updated)


@router.delete(
    "/{conversation_id}",
    response_model=ConversationDeleted,
    summary="Delete a conversation",
    responses=error_responses(401, 404),
)
async def delete_conversation(
    conversation_id: ConversationId, user: TokenOrKeyUser, conversations: ConversationServiceDep
) -> ConversationDeleted:
    """Delete a conversation and every message in it."""
    deleted = await conversations.delete(user.id, conversation_id)
    return ConversationDeleted(id=conversation_id, messages_deleted=deleted)


@router.get(
    "/{conversation_id}/messages",
    response_model=Page[MessagePublic],
    summary="Read a conversation's messages",
    responses=error_responses(401, 404, 422),
)
async def list_messages(
    conversation_id: ConversationId,
    user: TokenOrKeyUser,
    conversations: ConversationServiceDep,
    page: PageQuery,
) -> Page[MessagePublic]:
    """A conversation's messages, oldest first (answers replaced by a regeneration are hidden)."""
    found = await conversations.messages(user.id, conversation_id, page)
    return Page.of(found, MessagePublic.from_domain)


@router.get(
    "/{conversation_id}/export",
    response_model=ConversationExport,
    summary="Export a conversation",
    responses=EXPORT_RESPONSES,
)
async def export_conversation(
    conversation_id: ConversationId,
    user: TokenOrKeyUser,
    conversations: ConversationServiceDep,
    format: Annotated[Literal["markdown", "json"], Query()] = "markdown",
) -> Response:
    """The whole conversation as a Markdown document or as JSON, to download."""
    conversation, messages = await conversations.export(user.id, conversation_id)
    disposition = {
        "Content-Disposition": f'attachment; filename="conversation-{conversation.id}.'
        f'{"md" if format == "markdown" else "json"}"'
    }
    if format == "markdown":
        return Response(
            to_markdown(conversation, messages), media_type="text/markdown", headers=disposition
        )
    body = ConversationExport(
        conversation=ConversationPublic.from_domain(conversation),
        messages=[MessagePublic.from_domain(m) for m in messages],
    )
    return Response(body.model_dump_json(), media_type="application/json", headers=disposition)


@router.post(
    "/{conversation_id}/regenerate",
    response_model=MessageResponse,
    summary="Answer the last message again",
    responses={**CHAT_RESPONSES, **error_responses(409)},
)
async def regenerate_answer(
    conversation_id: ConversationId,
    caller: CurrentCaller,
    chat: ChatServiceDep,
    body: RegenerateRequest | None = None,
) -> MessageResponse | StreamingResponse:
    """Answer the conversation's last message again; the previous answer is kept, hidden."""
    wanted = body or RegenerateRequest()
    if wanted.stream:
        stream = await chat.regenerate_stream(
            caller.user_id, conversation_id, wanted.model, caller.key, epoch=caller.epoch
        )
        return sse_response(simple_events(stream))
    reply = await chat.regenerate(
        caller.user_id, conversation_id, wanted.model, caller.key, epoch=caller.epoch
    )
    return to_response(reply)


@router.post(
    "/{conversation_id}/tasks",
    status_code=202,
    response_model=TaskCreated,
    summary="Send a message, answered in the background",
    responses=error_responses(
        400,
        401,
        402,
        404,
        413,
        422,
        429,
        503,
        descriptions={
            401: "Missing or invalid token, or a message limit (daily_limit or burst_limit)",
            402: "Not enough credits for this message (SIMPLECHAT_CREDITS=on)",
            404: "No such conversation",
        },
    ),
)
async def create_task(
    conversation_id: ConversationId, body: TaskRequest, caller: CurrentCaller, chat: ChatServiceDep
) -> TaskCreated:
    """Store your message now and answer it in the background, whatever you do next: stream
    the answer once with GET /tasks/{task_id}/stream, or read it with GET /tasks/{task_id}."""
    text, parts = body.content()
    wanted = ChatRequest(
        persona=Persona(body.persona),
        text=text,
        parts=parts,
        model=body.model,
        sampling=Sampling(body.max_tokens, body.temperature, body.top_p),
        conversation_id=conversation_id,
    )
    created = await chat.create_task(caller.user_id, wanted, caller.key, epoch=caller.epoch)
    return TaskCreated(
        task_id=created.id, status=created.status.value, stream_token=created.stream_token
    )
