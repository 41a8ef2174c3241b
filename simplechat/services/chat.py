"""ChatService: one chat message from admission to stored reply.

    limits.admit -> store the user's message (pending) -> load history that can fit
    -> middle-out -> provider -> store the reply, mark the message answered

Nothing is lost: the user's message is stored before the provider is called; when the call
fails it stays in history marked unanswered, and the request's quota is given back.
"""

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from simplechat.domain.messages import ChatMessage, Completion, ModelSpec, Role, Usage
from simplechat.domain.tokens import TokenCounter
from simplechat.domain.truncation import Truncated, middle_out
from simplechat.domain.users import User
from simplechat.errors import ContextTooLong, InvalidInput
from simplechat.providers.base import GenerationParams, Provider
from simplechat.providers.registry import ProviderRegistry
from simplechat.services.limits import Admission, LimitService
from simplechat.storage.documents import MessageStatus
from simplechat.storage.messages import MessageRepository

log = logging.getLogger("simplechat.chat")

MIN_PROMPT_BUDGET = 256
CONTEXT_RETRY_FACTOR = 0.75  # after a provider "context too long", retry once in 3/4 the budget
THREAD_COUNT_CHARS = 20_000  # count longer texts off the event loop


class Persona(StrEnum):
    PLAIN = "plain"
    ADVANCED = "advanced"


@dataclass(frozen=True, slots=True)
class ChatReply:
    text: str
    model: str
    usage: Usage | None
    prompt: Truncated
    mock: bool
    message_id: str
    reply_id: str


def prompt_budget(model: ModelSpec, safety_margin: int) -> int:
    """Tokens the prompt may use: the window minus the reserved output and a safety margin."""
    return max(MIN_PROMPT_BUDGET, model.context_window - model.max_output_tokens - safety_margin)


class ChatService:
    def __init__(
        self,
        *,
        messages: MessageRepository,
        limits: LimitService,
        registry: ProviderRegistry,
        counter: TokenCounter,
        prompts: dict[Persona, str],
        safety_margin: int,
        history_max_messages: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._messages = messages
        self._limits = limits
        self._registry = registry
        self._counter = counter
        self._prompts = prompts
        self._margin = safety_margin
        self._history_max = history_max_messages
        self._clock = clock

    async def count(self, text: str) -> int:
        if len(text) > THREAD_COUNT_CHARS:
            return await asyncio.to_thread(self._counter.count, text)
        return self._counter.count(text)

    async def send(
        self, user: User, text: str, *, model_name: str | None, persona: Persona
    ) -> ChatReply:
        if not text.strip():
            raise InvalidInput("The message is empty: send some text.")
        model, provider = self._registry.resolve(model_name)
        admission = await self._limits.admit(user.id, self._clock())
        message_id: str | None = None
        try:
            tokens = await self.count(text)
            message_id = await self._messages.add_user_message(
                owner_id=user.id, text=text, tokens=tokens, model=model.name, kind=persona.value
            )
            new_message = ChatMessage(Role.USER, text, tokens)
            completion, prompt = await self._complete(user, model, provider, persona, new_message)
        except BaseException as exc:
            await asyncio.shield(self._fail(admission, message_id, exc))
            raise
        reply_tokens = await self.count(completion.text)
        reply_id, _ = await asyncio.gather(
            self._messages.add_reply(
                owner_id=user.id,
                reply_to=message_id,
                text=completion.text,
                tokens=reply_tokens,
                model=model.name,
                kind=persona.value,
                usage=completion.usage,
            ),
            self._messages.mark(message_id, MessageStatus.ANSWERED),
        )
        return ChatReply(
            text=completion.text,
            model=model.name,
            usage=completion.usage,
            prompt=prompt,
            mock=provider.name == "mock",
            message_id=message_id,
            reply_id=reply_id,
        )

    async def _complete(
        self,
        user: User,
        model: ModelSpec,
        provider: Provider,
        persona: Persona,
        new_message: ChatMessage,
    ) -> tuple[Completion, Truncated]:
        budget = prompt_budget(model, self._margin)
        history = await self._messages.prompt_history(
            owner_id=user.id, token_budget=budget, max_messages=self._history_max
        )
        system = ChatMessage(Role.SYSTEM, self._prompts[persona])
        messages: Sequence[ChatMessage] = [system, *history, new_message]
        params = GenerationParams(max_tokens=model.max_output_tokens)
        prompt = middle_out(messages, budget, self._counter)
        try:
            return await provider.complete(model, prompt.messages, params), prompt
        except ContextTooLong:
            # Local counts are estimates of the provider's tokenizer: retry once, tighter.
            tighter = max(MIN_PROMPT_BUDGET, int(prompt.prompt_tokens * CONTEXT_RETRY_FACTOR))
            log.info("chat.context_retry model=%s budget=%s", model.name, tighter)
            prompt = middle_out(messages, tighter, self._counter)
            return await provider.complete(model, prompt.messages, params), prompt

    async def _fail(self, admission: Admission, message_id: str | None, exc: BaseException) -> None:
        code = getattr(exc, "error_code", type(exc).__name__)
        try:
            if message_id is not None:
                await self._messages.mark(message_id, MessageStatus.UNANSWERED, error_code=code)
            await self._limits.give_back(admission)
        except Exception:  # the original error is the one the caller must see
            log.exception("chat.cleanup_failed message_id=%s", message_id)
