"""How a turn is recorded, whichever way it ends: the reply stored, or the message marked
unanswered and the quota given back; either way the exchange is added to its conversation's
totals in one update. Shared by the whole answer and the stream."""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from simplechat.billing.service import BillingService
from simplechat.billing.types import Hold
from simplechat.chat.repository.conversations import ConversationRepository
from simplechat.chat.repository.messages import MessageRepository
from simplechat.chat.rules import MIN_PROMPT_BUDGET
from simplechat.chat.types import Persona, Placement, Tally
from simplechat.keys.service import KeyService
from simplechat.keys.types import KeyCharge, KeyGrant
from simplechat.kit.telemetry import record_tokens
from simplechat.limits.service import Admission, LimitService, Taken
from simplechat.llm.base import Provider
from simplechat.llm.tokens import IMAGE_TOKENS, TokenCounter
from simplechat.llm.truncation import Truncated, middle_out
from simplechat.llm.types import (
    ChatMessage,
    ContentPart,
    GenerationParams,
    ModelSpec,
    PartType,
    Usage,
)

log = logging.getLogger("simplechat.chat")


@dataclass(frozen=True, slots=True)
class Turn:
    """An admitted request whose user message is stored and whose prompt is built."""

    user_id: str
    model: ModelSpec
    provider: Provider
    persona: Persona
    admission: Admission  # what the limits took, handed back when the call fails
    message_id: str  # the user message being answered
    place: Placement
    candidates: tuple[ChatMessage, ...]  # the whole prompt before middle-out
    keep_first: int | None  # how many leading candidates middle-out keeps (a preset's)
    prompt: Truncated
    params: GenerationParams
    key_charge: KeyCharge | None = None  # what the API key's daily cap took, if one was sent
    hold: Hold | None = None  # the credits held for the turn (None: credits off, free model)
    key: KeyGrant | None = None  # the personal API key the request came with
    key_hold: Hold | None = None  # held on the key's max_credits (None: no cap, free model)
    reply_id: str | None = None  # the reply's id, when chosen in advance (a task's)

    @property
    def mock(self) -> bool:
        return self.provider.name == "mock"


def _tally(place: Placement, usage: Usage | None, tokens: int, cost: int) -> Tally:
    """What an answered exchange adds to its conversation (a regeneration: only the answer)."""
    again = place.regeneration is not None
    return Tally(
        messages=1 if again else 2,
        input_tokens=0 if again else place.user_tokens,
        output_tokens=usage.completion_tokens if usage else tokens,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        cost=cost,
    )


CONTEXT_RETRY_FACTOR = 0.75  # after a provider "context too long", retry once in 3/4 the budget
THREAD_COUNT_CHARS = 20_000  # count longer texts off the event loop


class TurnRecorder:
    def __init__(
        self,
        *,
        messages: MessageRepository,
        conversations: ConversationRepository,
        limits: LimitService,
        keys: KeyService,
        billing: BillingService,
        counter: TokenCounter,
    ) -> None:
        self.messages = messages
        self._conversations = conversations
        self._limits = limits
        self._keys = keys
        self._billing = billing
        self.counter = counter

    async def count(self, text: str, parts: Sequence[ContentPart] | None = None) -> int:
        """Tokens of a message: its text, plus IMAGE_TOKENS per image."""
        images = sum(1 for part in parts or () if part.type is PartType.IMAGE_URL)
        if len(text) > THREAD_COUNT_CHARS:
            return await asyncio.to_thread(self.counter.count, text) + images * IMAGE_TOKENS
        return self.counter.count(text) + images * IMAGE_TOKENS

    def tighter(self, turn: Turn) -> Turn:
        """The same turn in a smaller budget, after the provider said the prompt is too long
        (local counts only estimate the provider's tokenizer): retried once."""
        budget = max(MIN_PROMPT_BUDGET, int(turn.prompt.prompt_tokens * CONTEXT_RETRY_FACTOR))
        log.info("chat.context_retry model=%s budget=%s", turn.model.name, budget)
        prompt = middle_out(turn.candidates, budget, self.counter, keep_first=turn.keep_first)
        return replace(turn, prompt=prompt)

    async def hold(self, turn: Turn) -> Turn:
        """Hold the turn's worst case (its prompt plus the reserved output) before the provider
        is called, on the user's credits and on the API key's max_credits side by side; raises
        InsufficientCredits or BudgetExhausted (402), giving back whichever hold was taken. No
        database call with credits off (or no capped key) or a free model."""
        held = await asyncio.gather(
            self._billing.hold(
                turn.user_id,
                turn.model,
                prompt_tokens=turn.prompt.prompt_tokens,
                max_output_tokens=turn.params.max_tokens,
                reference=turn.message_id,
            ),
            self._hold_key(turn),
            return_exceptions=True,
        )
        failure = next((r for r in held if isinstance(r, BaseException)), None)
        if failure is not None:
            for taken in held:
                if isinstance(taken, Hold):
                    await asyncio.shield(self.release(taken))
            raise failure
        hold, key_hold = held
        assert not isinstance(hold, BaseException)
        assert not isinstance(key_hold, BaseException)
        return replace(turn, hold=hold, key_hold=key_hold)

    async def _hold_key(self, turn: Turn) -> Hold | None:
        key = turn.key
        if key is None or key.budget_account is None or key.max_credits is None:
            return None
        return await self._billing.budgets.hold(
            key.budget_account,
            key.max_credits,
            turn.model,
            prompt_tokens=turn.prompt.prompt_tokens,
            max_output_tokens=turn.params.max_tokens,
            reference=turn.message_id,
        )

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
        """Store the reply (it points back at the user's message with `reply_to`), add the
        exchange and its cost to the conversation's totals and charge it, side by side; a
        regeneration then hides the answers it replaces."""
        if usage is not None:
            record_tokens(turn.model.name, usage.prompt_tokens, usage.completion_tokens)
        place = turn.place
        tokens = tokens if tokens is not None else await self.count(text)
        # What the turn is charged for: the provider's usage, or counted here when it sent none.
        billed = usage or Usage(prompt_tokens=turn.prompt.prompt_tokens, completion_tokens=tokens)
        cost = self.price(turn, billed)
        again = place.regeneration
        tally = _tally(place, usage, tokens, cost)
        reply_id = turn.reply_id or self.messages.new_id()
        _, recorded, _, _ = await asyncio.gather(
            self.messages.add_reply(
                reply_id=reply_id,
                owner_id=turn.user_id,
                conversation_id=place.conversation_id,
                reply_to=turn.message_id,
                text=text,
                tokens=tokens,
                model=turn.model.name,
                kind=turn.persona.value,
                usage=usage,
                complete=complete,
                usage_estimated=estimated,
                cost=cost,
            ),
            self._record(place, tally),
            self._charge(turn, billed, reply_id, estimated=estimated or usage is None),
            self._settle_key(turn, billed),
        )
        if not recorded:
            await self._drop_orphans(place, [turn.message_id, reply_id])
        elif again is not None:
            await self.messages.hide(again.superseded)
            if again.reopen:
                await self.messages.mark_answered(turn.message_id)
        return reply_id

    def price(self, turn: Turn, usage: Usage) -> int:
        """What the turn costs for `usage`, in units (no I/O)."""
        return self._billing.price(turn.model, usage)

    async def _charge(self, turn: Turn, usage: Usage, reply_id: str, *, estimated: bool) -> None:
        """Charge the turn and settle its hold. The reply is stored whatever happens here: a
        hold this cannot settle is released by billing's sweeper."""
        try:
            await self._billing.charge_turn(
                turn.user_id,
                turn.model,
                usage,
                hold=turn.hold,
                reference=reply_id,
                estimated=estimated,
            )
        except Exception:
            log.exception("chat.charge_failed message_id=%s", turn.message_id)

    async def _settle_key(self, turn: Turn, usage: Usage) -> None:
        """Charge the turn's real cost to its API key's max_credits (never more than held)."""
        if turn.key_hold is None:
            return
        try:
            await self._billing.settle(turn.key_hold, usage)
        except Exception:  # the sweeper releases the hold: the key is not charged
            log.exception("chat.key_settle_failed message_id=%s", turn.message_id)

    async def release(self, hold: Hold | None) -> None:
        """Give a hold back whole (a failure before any output)."""
        try:
            await self._billing.release(hold)
        except Exception:  # the sweeper releases it later; the caller's error matters more
            log.exception("chat.release_failed hold=%s", hold.id if hold else None)

    async def _record(self, place: Placement, tally: Tally) -> bool:
        return await self._conversations.record(
            place.owner_id, place.conversation_id, tally, default=place.default, title=place.title
        )

    async def _drop_orphans(self, place: Placement, message_ids: list[str]) -> None:
        """The conversation was deleted while its message was answered: so are the messages."""
        log.info("chat.conversation_gone conversation=%s", place.conversation_id)
        await self.messages.delete_ids(message_ids)

    async def give_back(self, admission: Admission, key_charge: KeyCharge | None = None) -> None:
        """A call failed after part of its answer was stored: it still counts for nothing."""
        try:
            await self._limits.give_back(admission)
            if key_charge is not None:
                await self._keys.give_back(key_charge)
        except Exception:
            log.exception("chat.give_back_failed user=%s", admission.user.id)

    async def fail(
        self,
        admission: Admission,
        place: Placement | None,
        message_id: str | None,
        exc: BaseException,
        *,
        give_back: bool = True,
        key_charge: KeyCharge | None = None,
        hold: Hold | None = None,
        key_hold: Hold | None = None,
    ) -> None:
        """A request failed before any answer: keep the message (unanswered, counted in its
        conversation), give the quota and the held credits (the user's and the API key's)
        back. A failed regeneration changes nothing stored."""
        code = getattr(exc, "error_code", type(exc).__name__)
        await asyncio.gather(self.release(hold), self.release(key_hold))
        giving = admission.taken if give_back else None
        await self.settle_failure(
            place, message_id, code, taken=giving, key_charge=key_charge if give_back else None
        )

    async def fail_turn(self, turn: Turn, exc: BaseException, *, give_back: bool = True) -> None:
        """`fail` for a turn that was built: its message, its key's count and both holds
        (`give_back=False`: the call reached the provider, so the quota stays taken)."""
        await self.fail(
            turn.admission,
            turn.place,
            turn.message_id,
            exc,
            give_back=give_back,
            key_charge=turn.key_charge,
            hold=turn.hold,
            key_hold=turn.key_hold,
        )

    async def settle_failure(
        self,
        place: Placement | None,
        message_id: str | None,
        code: str,
        *,
        taken: Taken | None,
        key_charge: KeyCharge | None,
    ) -> None:
        """`fail` without the holds: also what a task whose worker died leaves to its hook,
        which has the turn's record rather than the turn."""
        try:
            if message_id is not None and place is not None and place.regeneration is None:
                await self.messages.mark_unanswered(message_id, error_code=code)
                tally = Tally(messages=1, input_tokens=place.user_tokens)
                if not await self._record(place, tally):
                    await self._drop_orphans(place, [message_id])
            if taken is not None:
                await self._limits.give_back_taken(taken)
            if key_charge is not None:
                await self._keys.give_back(key_charge)
        except Exception:  # the original error is the one the caller must see
            log.exception("chat.cleanup_failed message_id=%s", message_id)
