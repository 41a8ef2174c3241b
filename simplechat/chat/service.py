"""ChatService: one chat message from admission to stored reply, whole or streamed.

    resolve model -> limits.admit (also authenticates) -> store the user's message while
    loading as much history as fits -> middle-out -> provider -> store the reply

Three database steps per message (the history load runs alongside the insert).

Nothing is lost: the user's message is stored before the provider is called; when the call
fails before any output, it stays in history marked unanswered and the request's quota is
given back. A stream (`stream`) ends the same way, however it ends (`chat.streaming`).
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from simplechat.chat.repository import MessageRepository
from simplechat.chat.streaming import ChatStream
from simplechat.chat.turns import MIN_PROMPT_BUDGET, TurnRecorder
from simplechat.chat.types import ChatReply, ChatRequest, HistoryEntry, Persona, Turn
from simplechat.kit.errors import ContextTooLong, InvalidInput
from simplechat.limits.service import LimitService
from simplechat.llm.base import GenerationParams
from simplechat.llm.registry import ProviderRegistry
from simplechat.llm.tokens import TokenCounter
from simplechat.llm.truncation import middle_out
from simplechat.llm.types import ChatMessage, Completion, ModelSpec, Role


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
        stream_first_chunk_wait: float,
        stream_keepalive: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._messages = messages
        self._limits = limits
        self._registry = registry
        self._counter = counter
        self._recorder = TurnRecorder(messages=messages, limits=limits, counter=counter)
        self._prompts = prompts
        self._margin = safety_margin
        self._history_max = history_max_messages
        self._first_chunk_wait = stream_first_chunk_wait
        self._keepalive = stream_keepalive
        self._clock = clock

    # --- what the routes call ---
    async def send(self, user_id: str, request: ChatRequest) -> ChatReply:
        """Answer `request` whole and store the reply."""
        turn = await self._start(user_id, request)
        try:
            completion, turn = await self._call(turn)
        except BaseException as exc:
            await asyncio.shield(self._recorder.fail(turn.admission, turn.message_id, exc))
            raise
        reply_id = await self._recorder.record_reply(
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

    async def stream(self, user_id: str, request: ChatRequest) -> ChatStream:
        """Start answering `request` as a stream; errors before the first chunk are raised."""
        turn = await self._start(user_id, request)
        return await ChatStream.open(
            self._recorder,
            turn,
            first_chunk_wait=self._first_chunk_wait,
            keepalive_seconds=self._keepalive,
        )

    async def history(self, user_id: str, n: int) -> list[HistoryEntry]:
        """The user's last `n` messages and replies, oldest first."""
        if not 1 <= n <= self._history_max:
            raise InvalidInput(f"last_n must be between 1 and {self._history_max}.")
        return await self._messages.last_entries(owner_id=user_id, n=n)

    async def delete_owner_data(self, user_id: str) -> None:
        """Forget a deleted user's history."""
        await self._messages.delete_owner(user_id)

    def models(self) -> list[ModelSpec]:
        """The models this server can answer with, in catalog order."""
        return self._registry.models()

    # --- starting a turn ---
    async def _start(self, user_id: str, request: ChatRequest) -> Turn:
        """Admit the message, store it and build its prompt."""
        if request.messages is None:
            text = request.text
            if not text.strip():
                raise InvalidInput("The message is empty: send some text.")
        else:
            last_user = next((m for m in reversed(request.messages) if m.role == Role.USER), None)
            if last_user is None or not last_user.content.strip():
                raise InvalidInput("messages must include a non-empty user message.")
            text = last_user.content
        model, provider = self._registry.resolve(request.model)
        sampling = request.sampling
        max_tokens = min(sampling.max_tokens or model.max_output_tokens, model.max_output_tokens)
        params = GenerationParams(
            max_tokens=max_tokens, temperature=sampling.temperature, top_p=sampling.top_p
        )
        # One round trip admits the message under both limits and proves the user exists.
        admission = await self._limits.admit(user_id, self._clock())
        user = admission.user
        message_id = self._messages.new_id()
        stored = False
        try:
            tokens = await self._recorder.count(text)
            budget = prompt_budget(model, max_tokens, self._margin)
            candidates = await self._store_and_gather(
                request, user.id, message_id, text, tokens, model.name, budget
            )
            stored = True
            prompt = middle_out(candidates, budget, self._counter)
        except BaseException as exc:
            await asyncio.shield(
                self._recorder.fail(admission, message_id if stored else None, exc)
            )
            raise
        return Turn(
            user.id,
            model,
            provider,
            request.persona,
            admission,
            message_id,
            candidates,
            prompt,
            params,
        )

    async def _store_and_gather(
        self,
        request: ChatRequest,
        owner_id: str,
        message_id: str,
        text: str,
        tokens: int,
        model_name: str,
        budget: int,
    ) -> tuple[ChatMessage, ...]:
        """Store the user's message; the prompt's candidates (the history is read alongside)."""
        store = self._messages.add_user_message(
            message_id=message_id,
            owner_id=owner_id,
            text=text,
            tokens=tokens,
            model=model_name,
            kind=request.persona.value,
        )
        if request.messages is not None:
            await store
            return tuple(request.messages)
        _, history = await asyncio.gather(
            store,
            self._messages.prompt_history(
                owner_id=owner_id,
                token_budget=budget,
                max_messages=self._history_max,
                exclude_id=message_id,
            ),
        )
        system = ChatMessage(Role.SYSTEM, self._prompts[request.persona])
        return (system, *history, ChatMessage(Role.USER, text, tokens))

    async def _call(self, turn: Turn) -> tuple[Completion, Turn]:
        try:
            return await turn.provider.complete(turn.model, turn.prompt.messages, turn.params), turn
        except ContextTooLong:
            turn = self._recorder.tighter(turn)
            completion = await turn.provider.complete(turn.model, turn.prompt.messages, turn.params)
            return completion, turn
