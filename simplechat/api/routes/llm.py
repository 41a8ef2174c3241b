"""Chatting with the model, whole or streamed (server-sent events)."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from simplechat.api.context import AppContext
from simplechat.api.deps import ContextDep, CurrentUserId
from simplechat.api.schemas import MessageRequest, MessageResponse, UsagePublic, error_responses
from simplechat.api.sse import open_stream, simple_events, sse_response
from simplechat.services.chat import ChatReply, Persona

router = APIRouter(prefix="/llm", tags=["chat"])

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
        413,
        422,
        429,
        502,
        503,
        504,
        codes={401: ("not_authenticated", "daily_limit", "burst_limit")},
        descriptions={
            401: "Missing or invalid token, or a message limit (daily_limit or burst_limit, "
            "with Retry-After)",
            429: "A message limit, when the server sets SIMPLECHAT_RATE_LIMIT_STATUS=429",
        },
    ),
    200: {
        "content": {"text/event-stream": {"example": SSE_EXAMPLE}},
        "description": "The answer, or with `stream` (or Accept: text/event-stream) an event "
        "stream of deltas ending with `data: [DONE]`",
    },
}


def _to_response(reply: ChatReply) -> MessageResponse:
    return MessageResponse(
        response=reply.text,
        model=reply.model,
        usage=UsagePublic.from_domain(reply.usage),
        truncated=reply.prompt.truncated,
        dropped_tokens=reply.prompt.dropped_tokens,
        prompt_tokens=reply.prompt.prompt_tokens,
        mock=reply.mock,
    )


def _wants_stream(body: MessageRequest, request: Request) -> bool:
    return body.stream or "text/event-stream" in request.headers.get("accept", "")


async def _answer(
    body: MessageRequest, request: Request, user_id: str, context: AppContext, persona: Persona
) -> MessageResponse | StreamingResponse:
    chat = context.chat
    turn = await chat.start(user_id, body.message, model_name=body.model, persona=persona)
    if not _wants_stream(body, request):
        return _to_response(await chat.complete(turn))
    return sse_response(simple_events(await open_stream(context, turn)))


@router.post(
    "/message", response_model=MessageResponse, summary="Send a message", responses=CHAT_RESPONSES
)
async def send_message(
    body: MessageRequest, request: Request, user_id: CurrentUserId, context: ContextDep
) -> MessageResponse | StreamingResponse:
    """Answer a message, with as much of your recent history as fits the model."""
    return await _answer(body, request, user_id, context, Persona.PLAIN)


@router.post(
    "/message/advanced",
    response_model=MessageResponse,
    summary="Send a message (warm, caring persona)",
    responses=CHAT_RESPONSES,
)
async def send_message_advanced(
    body: MessageRequest, request: Request, user_id: CurrentUserId, context: ContextDep
) -> MessageResponse | StreamingResponse:
    """Answer a message like /llm/message, with a warmer, more caring assistant."""
    return await _answer(body, request, user_id, context, Persona.ADVANCED)
