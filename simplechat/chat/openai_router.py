"""An OpenAI-compatible API: point any OpenAI client at /v1 with your simplechat token."""

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from simplechat.chat.dependencies import ChatServiceDep
from simplechat.chat.events import openai_events
from simplechat.chat.openai_schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    ModelCard,
    ModelList,
    OpenAIError,
)
from simplechat.chat.schemas import UsagePublic
from simplechat.chat.types import ChatRequest, Persona, Sampling
from simplechat.keys.dependencies import CurrentCaller, KnownCaller
from simplechat.kit.sse import sse_response

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

OPENAI_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIError}
    for status in (400, 401, 402, 403, 404, 413, 422, 429, 502, 503, 504)
}
STREAM_EXAMPLE = (
    'data: {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1795276446, '
    '"model": "mistralai/mistral-7b-instruct", "choices": [{"index": 0, "delta": '
    '{"content": "Hello Eric!"}, "finish_reason": null}]}\n\n'
    "data: [DONE]\n\n"
)
COMPLETION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **OPENAI_ERRORS,
    200: {
        "content": {"text/event-stream": {"example": STREAM_EXAMPLE}},
        "description": "A chat completion, or with `stream: true` chat.completion.chunk events "
        "ending with `data: [DONE]`",
    },
}


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="Chat completion (OpenAI-compatible)",
    responses=COMPLETION_RESPONSES,
)
async def create_chat_completion(
    body: ChatCompletionRequest, caller: CurrentCaller, chat: ChatServiceDep
) -> ChatCompletion | StreamingResponse:
    """OpenAI's chat completions, JSON or streamed, stored in a conversation (`conversation_id`,
    else your default one); middle-out and limits apply."""
    request = ChatRequest(
        persona=Persona.OPENAI,
        messages=body.to_domain(),
        model=body.model,
        sampling=Sampling(
            max_tokens=body.max_completion_tokens or body.max_tokens,
            temperature=body.temperature,
            top_p=body.top_p,
        ),
        conversation_id=body.conversation_id,
    )
    if body.stream:
        stream = await chat.stream(caller.user_id, request, caller.key, epoch=caller.epoch)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return sse_response(
            openai_events(
                stream, completion_id=completion_id(stream.message_id), include_usage=include_usage
            )
        )
    reply = await chat.send(caller.user_id, request, caller.key, epoch=caller.epoch)
    return ChatCompletion(
        id=completion_id(reply.message_id),
        created=int(time.time()),
        model=reply.model,
        choices=[
            Choice(message=AssistantMessage(content=reply.text), finish_reason=reply.finish_reason)
        ],
        usage=UsagePublic.from_domain(reply.usage),
    )


def completion_id(message_id: str) -> str:
    return f"chatcmpl-{message_id}"


@router.get(
    "/models",
    response_model=ModelList,
    summary="Models (OpenAI-compatible)",
    responses=OPENAI_ERRORS,
)
async def list_models(caller: KnownCaller, chat: ChatServiceDep) -> ModelList:
    """The models you can use here (an API key: those it allows), in OpenAI's list format."""
    return ModelList(
        data=[
            ModelCard(
                id=spec.name,
                owned_by=spec.provider,
                context_window=spec.context_window,
                max_output_tokens=spec.max_output_tokens,
            )
            for spec in chat.models(caller.key)
        ]
    )
