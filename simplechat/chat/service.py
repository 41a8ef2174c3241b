"""ChatService: one chat message from admission to stored reply, whole or streamed.

    (chat.admission) [conversation read, when one is named] -> resolve model (and the user's
    own provider key, when they stored one) -> the API key's cap, when the request came with
    one -> limits.admit (also authenticates) -> store the user's message while reading the
    conversation's newest messages (and, in a long conversation, its first ones) ->
    middle-out -> hold credits (billing; and the API key's max_credits, side by side) ->
    provider -> store the reply, add the exchange and its cost to the conversation's totals
    and bill (one update) and charge it (and the key's hold), side by side

A message sent without a conversation goes to the user's default conversation, which needs
no read (its id is the user's id) and is created by its first exchange.

Nothing is lost: the user's message is stored before the provider is called; when the call
fails before any output, it stays in its conversation marked unanswered and the request's
quota and the held credits are given back. A stream (`stream`) ends the same way, however it
ends (`chat.streaming`).
"""

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from simplechat.billing.service import BillingService
from simplechat.chat.admission import Admitted, Admitter, Setup
from simplechat.chat.background import CHAT_TASK, ChatTasks, turn_record
from simplechat.chat.errors import ModelTakesNoImages, NothingToRegenerate
from simplechat.chat.repository.conversations import ConversationRepository
from simplechat.chat.repository.messages import MessageRepository
from simplechat.chat.rules import (
    PERSONAS,
    for_model,
    image_refusal,
    new_message,
    placement,
    preamble,
    prompt_budget,
)
from simplechat.chat.streaming import ChatStream
from simplechat.chat.turns import Turn, TurnRecorder
from simplechat.chat.types import (
    ChatReply,
    ChatRequest,
    HistoryEntry,
    MessageStatus,
    Persona,
    Placement,
    Regeneration,
    Sampling,
)
from simplechat.keys.service import KeyService, ProviderKeyService
from simplechat.keys.types import KeyGrant
from simplechat.kit.errors import ContextTooLong, InvalidInput
from simplechat.limits.service import LimitService
from simplechat.llm.registry import ProviderRegistry
from simplechat.llm.tokens import TokenCounter
from simplechat.llm.truncation import middle_out
from simplechat.llm.types import ChatMessage, Completion, ModelSpec, Role
from simplechat.tasks.service import TaskService
from simplechat.tasks.types import CreatedTask


class ChatService:
    def __init__(
        self,
        *,
        messages: MessageRepository,
        conversations: ConversationRepository,
        limits: LimitService,
        keys: KeyService,
        provider_keys: ProviderKeyService,
        billing: BillingService,
        tasks: TaskService,
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
        self._admitter = Admitter(
            conversations=conversations,
            limits=limits,
            keys=keys,
            provider_keys=provider_keys,
            registry=registry,
            clock=clock,
        )
        self._registry = registry
        self._counter = counter
        self._recorder = TurnRecorder(
            messages=messages,
            conversations=conversations,
            limits=limits,
            keys=keys,
            billing=billing,
            counter=counter,
        )
        self._tasks = tasks
        self._background = ChatTasks(
            recorder=self._recorder, messages=messages, billing=billing, open_stream=self._open
        )
        tasks.register(CHAT_TASK, on_abandoned=self._background.on_abandoned)
        self._prompts = prompts
        self._margin = safety_margin
        self._history_max = history_max_messages
        self._first_chunk_wait = stream_first_chunk_wait
        self._keepalive = stream_keepalive

    # --- what the routes call ---
    # `key`: the personal API key the request came with (its allow-list and daily cap apply);
    # `epoch`: the access token's, compared by the admission (None: not an access token).
    async def send(
        self,
        user_id: str,
        request: ChatRequest,
        key: KeyGrant | None = None,
        *,
        epoch: int | None = None,
    ) -> ChatReply:
        """Answer `request` whole and store the reply."""
        return await self._answer(await self._start(user_id, request, key, epoch))

    async def stream(
        self,
        user_id: str,
        request: ChatRequest,
        key: KeyGrant | None = None,
        *,
        epoch: int | None = None,
    ) -> ChatStream:
        """Start answering `request` as a stream; errors before the first chunk are raised."""
        return await self._open(await self._start(user_id, request, key, epoch))

    async def create_task(
        self,
        user_id: str,
        request: ChatRequest,
        key: KeyGrant | None = None,
        *,
        epoch: int | None = None,
    ) -> CreatedTask:
        """Admit and store `request` as `stream` does (its errors are raised), then answer it
        in the background as a task: its output can be streamed once, from any worker."""
        turn = await self._start(user_id, request, key, epoch)
        turn = replace(turn, reply_id=self._messages.new_id())
        try:
            created = await self._tasks.create(user_id, CHAT_TASK, turn_record(turn))
        except BaseException as exc:
            await asyncio.shield(self._recorder.fail_turn(turn, exc))
            raise
        self._tasks.run(created.task, self._background.producer(turn))
        return created

    async def regenerate(
        self,
        user_id: str,
        conversation_id: str,
        model: str | None = None,
        key: KeyGrant | None = None,
        *,
        epoch: int | None = None,
    ) -> ChatReply:
        """Answer the conversation's last user message again; the previous answer is kept,
        hidden, once the new one is stored."""
        turn = await self._start_again(user_id, conversation_id, model, key, epoch)
        return await self._answer(turn)

    async def regenerate_stream(
        self,
        user_id: str,
        conversation_id: str,
        model: str | None = None,
        key: KeyGrant | None = None,
        *,
        epoch: int | None = None,
    ) -> ChatStream:
        """`regenerate`, streamed."""
        turn = await self._start_again(user_id, conversation_id, model, key, epoch)
        return await self._open(turn)

    async def history(self, user_id: str, n: int) -> list[HistoryEntry]:
        """The user's last `n` messages and replies (every conversation), oldest first."""
        if not 1 <= n <= self._history_max:
            raise InvalidInput(f"last_n must be between 1 and {self._history_max}.")
        return await self._messages.last_entries(owner_id=user_id, n=n)

    def models(self, key: KeyGrant | None = None) -> list[ModelSpec]:
        """The models this server can answer with, in catalog order (with an API key: those
        its allow-list names)."""
        return [m for m in self._registry.models() if key is None or key.allows(m.name)]

    @property
    def default_model(self) -> str:
        return self._registry.default_model

    # --- answering a turn ---
    async def _answer(self, turn: Turn) -> ChatReply:
        try:
            completion, turn = await self._call(turn)
        except BaseException as exc:
            await asyncio.shield(self._recorder.fail_turn(turn, exc))
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

    async def _open(self, turn: Turn) -> ChatStream:
        return await ChatStream.open(
            self._recorder,
            turn,
            first_chunk_wait=self._first_chunk_wait,
            keepalive_seconds=self._keepalive,
        )

    async def _call(self, turn: Turn) -> tuple[Completion, Turn]:
        try:
            return await turn.provider.complete(turn.model, turn.prompt.messages, turn.params), turn
        except ContextTooLong:
            turn = self._recorder.tighter(turn)
            completion = await turn.provider.complete(turn.model, turn.prompt.messages, turn.params)
            return completion, turn

    # --- starting a turn ---
    async def _start(
        self, user_id: str, request: ChatRequest, key: KeyGrant | None, epoch: int | None
    ) -> Turn:
        """Admit the message, store it and build its prompt."""
        new = new_message(request)
        sent = request.messages if request.messages is not None else [new]
        setup = await self._admitter.setup(
            user_id, request.conversation_id, request.model, request.sampling, sent
        )
        # One round trip admits the message under both limits and proves the user exists.
        admitted = await self._admitter.admit(user_id, setup, key, epoch=epoch)
        admission = admitted.admission
        message_id = self._messages.new_id()
        place: Placement | None = None
        stored = False
        try:
            tokens = await self._recorder.count(new.content, new.parts)
            place = placement(user_id, setup.conversation, new, tokens)
            budget = prompt_budget(setup.model, setup.params.max_tokens, self._margin)
            candidates, keep_first = await self._store_and_gather(
                request, setup, place, message_id, new, budget
            )
            stored = True
            prompt = middle_out(candidates, budget, self._counter, keep_first=keep_first)
            turn = Turn(
                user_id=user_id,
                model=setup.model,
                provider=setup.provider,
                persona=request.persona,
                admission=admission,
                message_id=message_id,
                place=place,
                candidates=candidates,
                keep_first=keep_first,
                prompt=prompt,
                params=replace(setup.params, api_key=admitted.own_key),
                key_charge=admitted.key_charge,
                key=key,
            )
            # Last: nothing after it can fail, so a hold is never left behind here. Short of
            # credits (402), the message stays unanswered and the quota goes back, as above.
            return await self._recorder.hold(turn)
        except BaseException as exc:
            await asyncio.shield(
                self._recorder.fail(
                    admission,
                    place,
                    message_id if stored else None,
                    exc,
                    key_charge=admitted.key_charge,
                )
            )
            raise

    async def _store_and_gather(
        self,
        request: ChatRequest,
        setup: Setup,
        place: Placement,
        message_id: str,
        new: ChatMessage,
        budget: int,
    ) -> tuple[tuple[ChatMessage, ...], int | None]:
        """Store the user's message; the prompt's candidates, and how many of them middle-out
        keeps first (the conversation's history is read alongside the insert)."""
        store = self._messages.add_user_message(
            message_id=message_id,
            owner_id=place.owner_id,
            conversation_id=place.conversation_id,
            text=new.content,
            parts=new.parts,
            tokens=place.user_tokens,
            model=setup.model.name,
            kind=request.persona.value,
        )
        if request.messages is not None:  # the client's own conversation (/v1)
            await store
            return tuple(request.messages), None
        _, history = await asyncio.gather(
            store,
            self._messages.prompt_history(
                conversation_id=place.conversation_id,
                token_budget=budget,
                max_messages=self._history_max,
                exclude_id=message_id,
            ),
        )
        start = self._preamble(setup, request.persona)
        ready = for_model(setup.model, history)
        return (*start, *ready, replace(new, tokens=place.user_tokens)), len(start)

    def _preamble(self, setup: Setup, persona: Persona) -> tuple[ChatMessage, ...]:
        preset = setup.conversation.preset if setup.conversation else None
        return preamble(preset, self._prompts.get(persona, self._prompts[Persona.PLAIN]))

    async def _start_again(
        self,
        user_id: str,
        conversation_id: str,
        model_name: str | None,
        key: KeyGrant | None,
        epoch: int | None,
    ) -> Turn:
        """Admit a regeneration and build the prompt that answers the last user message."""
        setup = await self._admitter.setup(user_id, conversation_id, model_name, Sampling(), [])
        admitted = await self._admitter.admit(user_id, setup, key, epoch=epoch)
        try:
            return await self._turn_again(user_id, setup, admitted)
        except BaseException as exc:  # nothing was stored: only the quota goes back
            await asyncio.shield(
                self._recorder.fail(
                    admitted.admission, None, None, exc, key_charge=admitted.key_charge
                )
            )
            raise

    async def _turn_again(self, user_id: str, setup: Setup, admitted: Admitted) -> Turn:
        conversation = setup.conversation
        assert conversation is not None
        last = await self._messages.last_exchange(conversation.id, self._history_max)
        if last is None:
            raise NothingToRegenerate()
        message, superseded = last
        question = ChatMessage(Role.USER, message.text, message.input_tokens, message.parts)
        refusal = image_refusal(setup.model, [question])
        if refusal:
            raise ModelTakesNoImages(refusal)
        budget = prompt_budget(setup.model, setup.params.max_tokens, self._margin)
        history = await self._messages.prompt_history(
            conversation_id=conversation.id,
            token_budget=budget,
            max_messages=self._history_max,
            before_key=message.key,
        )
        persona = Persona(message.kind) if message.kind in PERSONAS else Persona.PLAIN
        start = self._preamble(setup, persona)
        candidates = (*start, *for_model(setup.model, history), question)
        reopen = message.status is MessageStatus.UNANSWERED
        again = Regeneration(message.id, tuple(superseded), reopen=reopen)
        turn = Turn(
            user_id=user_id,
            model=setup.model,
            provider=setup.provider,
            persona=persona,
            admission=admitted.admission,
            message_id=message.id,
            place=Placement(user_id, conversation.id, conversation.is_default, 0, None, again),
            candidates=candidates,
            keep_first=len(start),
            prompt=middle_out(candidates, budget, self._counter, keep_first=len(start)),
            params=replace(setup.params, api_key=admitted.own_key),
            key_charge=admitted.key_charge,
            key=admitted.key,
        )
        return await self._recorder.hold(turn)  # last, as in `_start`
