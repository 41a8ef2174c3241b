"""Chatting with the model."""

from fastapi import APIRouter

from simplechat.api.deps import ContextDep, CurrentUser
from simplechat.api.schemas import MessageRequest, MessageResponse, UsagePublic, error_responses
from simplechat.services.chat import ChatReply, Persona

router = APIRouter(prefix="/llm", tags=["chat"])

CHAT_ERRORS = error_responses(400, 401, 413, 422, 502, 503, 504)


def _to_response(reply: ChatReply) -> MessageResponse:
    usage = reply.usage
    return MessageResponse(
        response=reply.text,
        model=reply.model,
        usage=UsagePublic(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )
        if usage
        else None,
        truncated=reply.prompt.truncated,
        dropped_tokens=reply.prompt.dropped_tokens,
        prompt_tokens=reply.prompt.prompt_tokens,
        mock=reply.mock,
    )


@router.post(
    "/message", response_model=MessageResponse, summary="Send a message", responses=CHAT_ERRORS
)
async def send_message(
    body: MessageRequest, user: CurrentUser, context: ContextDep
) -> MessageResponse:
    """Answer a message, with as much of your recent history as fits the model."""
    reply = await context.chat.send(
        user, body.message, model_name=body.model, persona=Persona.PLAIN
    )
    return _to_response(reply)


@router.post(
    "/message/advanced",
    response_model=MessageResponse,
    summary="Send a message (warm, caring persona)",
    responses=CHAT_ERRORS,
)
async def send_message_advanced(
    body: MessageRequest, user: CurrentUser, context: ContextDep
) -> MessageResponse:
    """Answer a message like /llm/message, with a warmer, more caring assistant."""
    reply = await context.chat.send(
        user, body.message, model_name=body.model, persona=Persona.ADVANCED
    )
    return _to_response(reply)
