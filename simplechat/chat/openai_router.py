"""An OpenAI-compatible API: point any OpenAI client at /v1 with your simplechat token."""

import time
from dataclasses import replace
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from simplechat.chat.dependencies import ChatServiceDep, DropUnsupported
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
from simplechat.kit.errors import UnsupportedParameter
from simplechat.kit.sse import sse_response
from simplechat.llm.types import ChatMessage, GenerationOptions, Role

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
    body: ChatCompletionRequest, caller: CurrentCaller, chat: ChatServiceDep, drop: DropUnsupported
) -> ChatCompletion | StreamingResponse:
    """OpenAI's chat completions, JSON or streamed, stored in a conversation (`conversation_id`,
    else your default one); middle-out and limits apply. A parameter the model cannot take is
    a 400 `unsupported_parameter` naming it (`drop_params: true` drops it instead)."""
    request = ChatRequest(
        persona=Persona.OPENAI,
        messages=_messages(body),
        model=body.model,
        sampling=Sampling(
            max_tokens=body.max_completion_tokens or body.max_tokens,
            temperature=body.temperature,
            top_p=body.top_p,
            options=_options(body),
            drop_unsupported=bool(body.drop_params) or drop,
        ),
        conversation_id=body.conversation_id,
    )
    if body.stream:
        stream = await chat.stream(caller.user_id, request, caller.key, epoch=caller.epoch)
        return sse_response(
            openai_events(
                stream,
                completion_id=completion_id(stream.message_id),
                include_usage=body.include_usage,
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


# Until the chat path stores and answers tool calls (issue 25, phase B), only the options
# whose answer is text reach the model; tools, n and logprobs are left out as before, and
# messages carrying tool calls or results are refused. Phase B passes `body.to_options()`
# and `body.to_domain()` whole and deletes these two functions.
def _options(body: ChatCompletionRequest) -> GenerationOptions:
    return replace(
        body.to_options(),
        tools=(),
        tool_choice=None,
        parallel_tool_calls=None,
        n=1,
        logprobs=False,
        top_logprobs=None,
    )


def _messages(body: ChatCompletionRequest) -> list[ChatMessage]:
    messages = body.to_domain()
    if any(m.tool_calls or m.role is Role.TOOL for m in messages):
        raise UnsupportedParameter(
            "Tool calls and tool results in messages are not supported on this server yet.",
            param="messages",
        )
    return messages


@router.get(
    "/models",
    response_model=ModelList,
    summary="Models (OpenAI-compatible)",
    responses=OPENAI_ERRORS,
)
async def list_models(caller: KnownCaller, chat: ChatServiceDep) -> ModelList:
    """The models you can use here (an API key: those it allows), in OpenAI's list format,
    chat and embedding models, each with what it can do."""
    return ModelList(data=[ModelCard.from_domain(spec) for spec in chat.models(caller.key)])
