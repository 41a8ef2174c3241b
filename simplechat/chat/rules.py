"""Pure decisions of the chat capability: titles made from a first message, and how a turn is
put together (the message to answer, where it goes, the budget, the generation parameters,
what the prompt starts with, images)."""

from collections.abc import Sequence

from simplechat.chat.types import (
    ChatRequest,
    Conversation,
    Persona,
    Placement,
    PresetSnapshot,
    Sampling,
)
from simplechat.kit.errors import InvalidInput
from simplechat.llm.parameters import screen
from simplechat.llm.types import ChatMessage, GenerationParams, ModelSpec, Role

TITLE_CHARS = 50
UNTITLED = "New conversation"
IMAGE_TITLE = "Image"
ELLIPSIS = "…"


def title_from(text: str, *, has_images: bool = False, limit: int = TITLE_CHARS) -> str:
    """A conversation title from its first message: the text on one line, whole when it is at
    most `limit` characters, else cut at the last word boundary within `limit` (mid-word only
    for a first word longer than that) and ended with an ellipsis. A message with images and
    no text is titled IMAGE_TITLE; an empty one UNTITLED."""
    line = " ".join(text.split())
    if not line:
        return IMAGE_TITLE if has_images else UNTITLED
    if len(line) <= limit:
        return line
    cut = line[: limit + 1]
    space = cut.rfind(" ")
    head = cut[:space] if space > 0 else line[:limit]
    return head.rstrip(" ,.;:-–—") + ELLIPSIS


MIN_PROMPT_BUDGET = 256


def prompt_budget(model: ModelSpec, max_tokens: int, safety_margin: int) -> int:
    """Tokens the prompt may use: the window minus the reserved output and a safety margin."""
    return max(MIN_PROMPT_BUDGET, model.context_window - max_tokens - safety_margin)


def generation_params(model: ModelSpec, *samplings: Sampling) -> GenerationParams:
    """The first value given by `samplings` (the request's, then the conversation's) for each
    parameter; max_tokens never above the model's maximum output; the first sampling's
    options. What the model cannot take (`llm.parameters`) is refused with
    UnsupportedParameter, or dropped when the first sampling says so."""
    max_tokens = next((s.max_tokens for s in samplings if s.max_tokens is not None), None)
    temperature = next((s.temperature for s in samplings if s.temperature is not None), None)
    top_p = next((s.top_p for s in samplings if s.top_p is not None), None)
    first = samplings[0] if samplings else Sampling()
    params = GenerationParams(
        max_tokens=min(max_tokens or model.max_output_tokens, model.max_output_tokens),
        temperature=temperature,
        top_p=top_p,
        options=first.options,
    )
    return screen(model, params, drop=first.drop_unsupported)


def preamble(preset: PresetSnapshot | None, persona_prompt: str) -> tuple[ChatMessage, ...]:
    """What a prompt starts with: the conversation's preset (every message, visible or not),
    or the persona's system prompt."""
    if preset is None:
        return (ChatMessage(Role.SYSTEM, persona_prompt),)
    return tuple(ChatMessage(m.role, m.content) for m in preset.messages)


def image_refusal(model: ModelSpec, messages: Sequence[ChatMessage]) -> str | None:
    """Why `messages` cannot go to `model` (images to a model that takes text only), or None."""
    if model.takes_images or not any(m.images for m in messages):
        return None
    return (
        f"Model {model.name!r} does not take images: send text only, or choose a model whose "
        "takes_images is true (GET /llm/models)."
    )


PERSONAS = frozenset({Persona.PLAIN.value, Persona.ADVANCED.value})


def new_message(request: ChatRequest) -> ChatMessage:
    """The user message to answer: the request's text (or parts), or for a client-supplied
    conversation its last user message. InvalidInput when there is nothing to answer."""
    if request.messages is None:
        message = ChatMessage(Role.USER, request.text, parts=request.parts)
        if not message.content.strip() and not message.images:
            raise InvalidInput("The message is empty: send some text.")
        return message
    last_user = next((m for m in reversed(request.messages) if m.role == Role.USER), None)
    if last_user is None or not (last_user.content.strip() or last_user.images):
        raise InvalidInput("messages must include a non-empty user message.")
    return last_user


def placement(
    user_id: str, conversation: Conversation | None, new: ChatMessage, tokens: int
) -> Placement:
    """The default conversation is titled by its first message when the exchange creates it;
    a conversation created without a title, by its first message."""
    title = title_from(new.content, has_images=bool(new.images))
    if conversation is None:
        return Placement(user_id, user_id, True, tokens, title=title)
    wants_title = conversation.title_auto
    return Placement(
        user_id, conversation.id, conversation.is_default, tokens, title if wants_title else None
    )


def for_model(model: ModelSpec, history: Sequence[ChatMessage]) -> list[ChatMessage]:
    """History as the model can read it: without images for a model that takes text only."""
    return list(history) if model.takes_images else [m.text_only() for m in history]
