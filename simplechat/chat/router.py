"""Chatting with the model, whole or streamed (server-sent events), and the raw history."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import StreamingResponse

from simplechat.accounts.dependencies import TokenOrKeyUser
from simplechat.chat.conversation_schemas import ModelPublic
from simplechat.chat.dependencies import ChatServiceDep
from simplechat.chat.events import simple_events
from simplechat.chat.schemas import HistoryItem, MessageRequest, MessageResponse, UsagePublic
from simplechat.chat.types import ChatReply, ChatRequest, Persona
from simplechat.keys.dependencies import CurrentCaller, KnownCaller
from simplechat.keys.types import Caller
from simplechat.kit.errors import NotAuthenticated
from simplechat.kit.http import error_responses
from simplechat.kit.sse import sse_response
from simplechat.limits.service import example_refusals

router = APIRouter()

SSE_EXAMPLE = (
    'data: {"content": "Hello", "finish_reason": null}\n\n'
    'data: {"content": " Eric!", "finish_reason": null}\n\n'
    'data: {"content": "", "finish_reason": "stop", "usage": {"prompt_tokens": 14, '
    '"completion_tokens": 8, "total_tokens": 22}}\n\n'
    "data: [DONE]\n\n"
)
CHAT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **error_responses(
        400,
        401,
        404,
        413,
        422,
        429,
        502,
        503,
        504,
        examples={401: [NotAuthenticated(), *example_refusals()]},
        descriptions={
            401: "Missing or invalid token, or a message limit (daily_limit or burst_limit, "
            "with Retry-After)",
            404: "No such conversation (conversation_id)",
            429: "A message limit, when the server sets SIMPLECHAT_RATE_LIMIT_STATUS=429",
        },
    ),
    200: {
        "content": {"text/event-stream": {"example": SSE_EXAMPLE}},
        "description": "The answer, or with `stream` (or Accept: text/event-stream) an event "
        "stream of deltas ending with `data: [DONE]`",
    },
}


def to_response(reply: ChatReply) -> MessageResponse:
    return MessageResponse(
        response=reply.text,
        model=reply.model,
        usage=UsagePublic.from_domain(reply.usage),
        truncated=reply.prompt.truncated,
        dropped_tokens=reply.prompt.dropped_tokens,
        prompt_tokens=reply.prompt.prompt_tokens,
        mock=reply.mock,
    )


async def _answer(
    body: MessageRequest, request: Request, caller: Caller, chat: ChatServiceDep, persona: Persona
) -> MessageResponse | StreamingResponse:
    text, parts = body.content()
    wanted = ChatRequest(
        persona=persona,
        text=text,
        parts=parts,
        model=body.model,
        conversation_id=body.conversation_id,
    )
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        return sse_response(
            simple_events(await chat.stream(caller.user_id, wanted, caller.key, epoch=caller.epoch))
        )
    return to_response(await chat.send(caller.user_id, wanted, caller.key, epoch=caller.epoch))


@router.post(
    "/llm/message",
    response_model=MessageResponse,
    summary="Send a message",
    tags=["chat"],
    responses=CHAT_RESPONSES,
)
async def send_message(
    body: MessageRequest, request: Request, caller: CurrentCaller, chat: ChatServiceDep
) -> MessageResponse | StreamingResponse:
    """Answer a message in a conversation (your default one unless you name one), with as much
    of the conversation as fits the model."""
    return await _answer(body, request, caller, chat, Persona.PLAIN)


@router.post(
    "/llm/message/advanced",
    response_model=MessageResponse,
    summary="Send a message (warm, caring persona)",
    tags=["chat"],
    responses=CHAT_RESPONSES,
)
async def send_message_advanced(
    body: MessageRequest, request: Request, caller: CurrentCaller, chat: ChatServiceDep
) -> MessageResponse | StreamingResponse:
    """Answer a message like /llm/message, with a warmer, more caring assistant (the built-in
    caring preset) when the conversation has no preset of its own."""
    return await _answer(body, request, caller, chat, Persona.ADVANCED)


HISTORY_EXAMPLE = [
    {"type": "user", "text": "hi, my name is Eric"},
    {"type": "ai", "text": "Hello Eric! How can I help you today?"},
]
HISTORY_CEILING = 1000  # the most SIMPLECHAT_HISTORY_MAX_ENTRIES may be (config.py)
LAST_N = Path(
    # documented as the widest range any server takes; beyond this one's maximum: 422
    json_schema_extra={"minimum": 1, "maximum": HISTORY_CEILING},
    description="How many entries: 1 to the server's maximum (SIMPLECHAT_HISTORY_MAX_ENTRIES, 100)",
    openapi_examples={"the last exchange": {"summary": "your message and its answer", "value": 2}},
)


@router.get(
    "/user/history/{last_n}",
    response_model=list[HistoryItem],
    summary="Your last messages",
    response_description="Messages and replies, oldest first",
    tags=["user"],
    responses={
        200: {"content": {"application/json": {"example": HISTORY_EXAMPLE}}},
        **error_responses(401, 422, descriptions={422: "last_n is out of range"}),
    },
)
async def read_history(
    last_n: Annotated[int, LAST_N], user: TokenOrKeyUser, chat: ChatServiceDep
) -> list[HistoryItem]:
    """Your last `last_n` messages and replies, oldest first, as you wrote them (never trimmed)."""
    entries = await chat.history(user.id, last_n)
    return [HistoryItem(type="user" if e.role == "user" else "ai", text=e.text) for e in entries]


@router.get(
    "/llm/models",
    response_model=list[ModelPublic],
    summary="Models",
    tags=["chat"],
    responses=error_responses(401),
)
async def list_chat_models(caller: KnownCaller, chat: ChatServiceDep) -> list[ModelPublic]:
    """The models you can use here (an API key: those it allows): limits, images, the default."""
    return [ModelPublic.from_domain(spec, chat.default_model) for spec in chat.models(caller.key)]
