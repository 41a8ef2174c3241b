"""ChatService: one chat message from admission to stored reply, whole or streamed.

    resolve model -> limits.admit (also authenticates) -> store the user's message while
    loading as much history as fits -> middle-out -> provider -> store the reply

Three database steps per message (the history load runs alongside the insert).

Nothing is lost: the user's message is stored before the provider is called; when the call
fails before any output, it stays in history marked unanswered and the request's quota is
given back. Streams are finished by `services.streaming.ChatStream`.
"""

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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
from simplechat.storage.messages import MessageRepository, new_message_id
from simplechat.telemetry import record_tokens

log = logging.getLogger("simplechat.chat")

MIN_PROMPT_BUDGET = 256
CONTEXT_RETRY_FACTOR = 0.75  # after a provider "context too long", retry once in 3/4 the budget
THREAD_COUNT_CHARS = 20_000  # count longer texts off the event loop


class Persona(StrEnum):
    PLAIN = "plain"
    ADVANCED = "advanced"
    OPENAI = "openai"  # the client brings its own messages (/v1/chat/completions)


@dataclass(frozen=True, slots=True)
class Sampling:
    """What an OpenAI-style client may ask for; None means the model's defaults."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    """An admitted request whose user message is stored and whose prompt is built."""

    user: User
    model: ModelSpec
    provider: Provider
    persona: Persona
    admission: Admission
    message_id: str
    candidates: tuple[ChatMessage, ...]  # the whole prompt before middle-out
    prompt: Truncated
    params: GenerationParams

    @property
    def mock(self) -> bool:
        return self.provider.name == "mock"


@dataclass(frozen=True, slots=True)
class ChatReply:
    text: str
    model: str
    usage: Usage | None
    prompt: Truncated
    mock: bool
    message_id: str
    reply_id: str
    finish_reason: str = "stop"


def prompt_budget(model: ModelSpec, max_tokens: int, safety_margin: int) -> int:
    """Tokens the prompt may use: the window minus the reserved output and a safety margin."""
    return max(MIN_PROMPT_BUDGET, model.context_window - max_tokens - safety_margin)


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

    # --- starting a turn ---
    async def start(
        self, user_id: str, text: str, *, model_name: str | None, persona: Persona
    ) -> Turn:
        """Admit and record a message for /llm/message; its prompt carries the user's history."""
        if not text.strip():
            raise InvalidInput("The message is empty: send some text.")
        return await self._start(user_id, model_name, persona, text, conversation=None)

    async def start_with_messages(
        self,
        user_id: str,
        conversation: Sequence[ChatMessage],
        *,
        model_name: str | None,
        sampling: Sampling,
    ) -> Turn:
        """Admit and record a client-supplied conversation (OpenAI-style): its last user
        message is stored; the whole list, trimmed by middle-out, is the prompt."""
        last_user = next((m for m in reversed(conversation) if m.role == Role.USER), None)
        if last_user is None or not last_user.content.strip():
            raise InvalidInput("messages must include a non-empty user message.")
        return await self._start(
            user_id, model_name, Persona.OPENAI, last_user.content, conversation, sampling
        )

    async def _start(
        self,
        user_id: str,
        model_name: str | None,
        persona: Persona,
        text: str,
        conversation: Sequence[ChatMessage] | None,
        sampling: Sampling = Sampling(),
    ) -> Turn:
        model, provider = self._registry.resolve(model_name)
        max_tokens = min(sampling.max_tokens or model.max_output_tokens, model.max_output_tokens)
        params = GenerationParams(
            max_tokens=max_tokens, temperature=sampling.temperature, top_p=sampling.top_p
        )
        # One round trip admits the message under both limits and proves the user exists.
        admission = await self._limits.admit(user_id, self._clock())
        user = admission.user
        message_id = new_message_id()
        stored = False
        try:
            tokens = await self.count(text)
            budget = prompt_budget(model, max_tokens, self._margin)
            store = self._messages.add_user_message(
                message_id=message_id,
                owner_id=user.id,
                text=text,
                tokens=tokens,
                model=model.name,
                kind=persona.value,
            )
            if conversation is None:
                _, history = await asyncio.gather(
                    store,
                    self._messages.prompt_history(
                        owner_id=user.id,
                        token_budget=budget,
                        max_messages=self._history_max,
                        exclude_id=message_id,
                    ),
                )
                system = ChatMessage(Role.SYSTEM, self._prompts[persona])
                candidates: tuple[ChatMessage, ...] = (
                    system,
                    *history,
                    ChatMessage(Role.USER, text, tokens),
                )
            else:
                await store
                candidates = tuple(conversation)
            stored = True
            prompt = middle_out(candidates, budget, self._counter)
        except BaseException as exc:
            await asyncio.shield(self.fail(admission, message_id if stored else None, exc))
            raise
        return Turn(
            user, model, provider, persona, admission, message_id, candidates, prompt, params
        )

    # --- finishing a turn ---
    async def complete(self, turn: Turn) -> ChatReply:
        """Call the provider for a whole answer and store it."""
        try:
            completion, turn = await self._call(turn)
        except BaseException as exc:
            await asyncio.shield(self.fail(turn.admission, turn.message_id, exc))
            raise
        reply_id = await self.record_reply(
            turn, completion.text, completion.usage, complete=True, estimated=False
        )
        return ChatReply(
            text=completion.text,
            model=turn.model.name,
            usage=completion.usage,
            prompt=turn.prompt,
            mock=turn.mock,
            message_id=turn.message_id,
            reply_id=reply_id,
            finish_reason=completion.finish_reason,
        )

    async def _call(self, turn: Turn) -> tuple[Completion, Turn]:
        try:
            return await turn.provider.complete(turn.model, turn.prompt.messages, turn.params), turn
        except ContextTooLong:
            turn = self.tighter(turn)
            completion = await turn.provider.complete(turn.model, turn.prompt.messages, turn.params)
            return completion, turn

    def tighter(self, turn: Turn) -> Turn:
        """The same turn in a smaller budget, after the provider said the prompt is too long
        (local counts only estimate the provider's tokenizer): retried once."""
        budget = max(MIN_PROMPT_BUDGET, int(turn.prompt.prompt_tokens * CONTEXT_RETRY_FACTOR))
        log.info("chat.context_retry model=%s budget=%s", turn.model.name, budget)
        return replace(turn, prompt=middle_out(turn.candidates, budget, self._counter))

    async def record_reply(
        self,
        turn: Turn,
        text: str,
        usage: Usage | None,
        *,
        complete: bool,
        estimated: bool,
        tokens: int | None = None,
    ) -> str:
        """Store the reply (it points back at the user's message with `reply_to`)."""
        if usage is not None:
            record_tokens(turn.model.name, usage.prompt_tokens, usage.completion_tokens)
        return await self._messages.add_reply(
            owner_id=turn.user.id,
            reply_to=turn.message_id,
            text=text,
            tokens=tokens if tokens is not None else await self.count(text),
            model=turn.model.name,
            kind=turn.persona.value,
            usage=usage,
            complete=complete,
            usage_estimated=estimated,
        )

    async def give_back(self, admission: Admission) -> None:
        """A call failed after part of its answer was stored: it still counts for nothing."""
        try:
            await self._limits.give_back(admission)
        except Exception:
            log.exception("chat.give_back_failed user=%s", admission.user.id)

    async def fail(
        self,
        admission: Admission,
        message_id: str | None,
        exc: BaseException,
        *,
        give_back: bool = True,
    ) -> None:
        """A request failed before any answer: keep the message (unanswered), give quota back."""
        code = getattr(exc, "error_code", type(exc).__name__)
        try:
            if message_id is not None:
                await self._messages.mark(message_id, MessageStatus.UNANSWERED, error_code=code)
            if give_back:
                await self._limits.give_back(admission)
        except Exception:  # the original error is the one the caller must see
            log.exception("chat.cleanup_failed message_id=%s", message_id)
