"""How a turn is recorded, whichever way it ends: the reply stored, or the message marked
unanswered and the quota given back. Shared by the whole answer and the stream."""

import asyncio
import logging
from dataclasses import replace

from simplechat.chat.repository import MessageRepository
from simplechat.chat.types import Turn
from simplechat.kit.telemetry import record_tokens
from simplechat.limits.service import Admission, LimitService
from simplechat.llm.tokens import TokenCounter
from simplechat.llm.truncation import middle_out
from simplechat.llm.types import Usage

log = logging.getLogger("simplechat.chat")

MIN_PROMPT_BUDGET = 256
CONTEXT_RETRY_FACTOR = 0.75  # after a provider "context too long", retry once in 3/4 the budget
THREAD_COUNT_CHARS = 20_000  # count longer texts off the event loop


class TurnRecorder:
    def __init__(
        self, *, messages: MessageRepository, limits: LimitService, counter: TokenCounter
    ) -> None:
        self.messages = messages
        self._limits = limits
        self.counter = counter

    async def count(self, text: str) -> int:
        if len(text) > THREAD_COUNT_CHARS:
            return await asyncio.to_thread(self.counter.count, text)
        return self.counter.count(text)

    def tighter(self, turn: Turn) -> Turn:
        """The same turn in a smaller budget, after the provider said the prompt is too long
        (local counts only estimate the provider's tokenizer): retried once."""
        budget = max(MIN_PROMPT_BUDGET, int(turn.prompt.prompt_tokens * CONTEXT_RETRY_FACTOR))
        log.info("chat.context_retry model=%s budget=%s", turn.model.name, budget)
        return replace(turn, prompt=middle_out(turn.candidates, budget, self.counter))

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
        return await self.messages.add_reply(
            owner_id=turn.user_id,
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
                await self.messages.mark_unanswered(message_id, error_code=code)
            if give_back:
                await self._limits.give_back(admission)
        except Exception:  # the original error is the one the caller must see
            log.exception("chat.cleanup_failed message_id=%s", message_id)
