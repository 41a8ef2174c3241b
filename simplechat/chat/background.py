"""Chat answers as tasks (`POST /conversations/{id}/tasks`): the turn is started as for a
stream (admitted, its message stored, its credits held) before the task exists, and its
answer is generated in the background by a `ChatStream` whose deltas go to the task's output.
The reply is recorded by the stream exactly as for `/llm/message` (whole, cut, or failed).

A task's payload is the turn's record (`turn_record`): what the chat's `on_abandoned` hook
needs to undo the turn when its worker dies before the reply is stored (the user's message
marked unanswered and counted in its conversation, the quota, the API key's count and the
held credits given back). The reply's id is chosen in advance, so the hook knows whether the
reply was stored after all.
"""

import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass

from simplechat.billing.service import BillingService
from simplechat.billing.types import to_credits
from simplechat.chat.events import error_data, finish_data
from simplechat.chat.repository.messages import MessageRepository
from simplechat.chat.streaming import ChatStream, Delta, Failed, Finished
from simplechat.chat.turns import Turn, TurnRecorder
from simplechat.chat.types import Placement
from simplechat.keys.types import KeyCharge
from simplechat.kit.errors import SimpleChatError
from simplechat.limits.service import Taken
from simplechat.tasks.types import Output, Payload, Producer, Task, TaskResult, TaskStatus

log = logging.getLogger("simplechat.chat")

CHAT_TASK = "chat"
ABANDONED_CODE = "task_abandoned"
CANCELLED_CODE = "task_cancelled"


def turn_record(turn: Turn) -> Payload:
    """What undoing the turn needs, as flat plain values."""
    place, admission = turn.place, turn.admission
    return {
        "user_id": turn.user_id,
        "message_id": turn.message_id,
        "reply_id": turn.reply_id,
        "conversation_id": place.conversation_id,
        "default": place.default,
        "user_tokens": place.user_tokens,
        "title": place.title,
        "day": admission.day,
        "slot": admission.slot,
        "claimed_ms": admission.claimed_ms,
        "previous_ms": admission.previous_ms,
        "key_id": turn.key_charge.key_id if turn.key_charge else None,
        "key_day": turn.key_charge.day if turn.key_charge else None,
        "hold_id": turn.hold.id if turn.hold else None,
        "hold_amount": turn.hold.amount if turn.hold else None,
        # The API key's max_credits hold: its account is the key's budget, not the user's.
        "key_hold_account": turn.key_hold.user_id if turn.key_hold else None,
        "key_hold_id": turn.key_hold.id if turn.key_hold else None,
        "key_hold_amount": turn.key_hold.amount if turn.key_hold else None,
    }


@dataclass(frozen=True, slots=True)
class _Record:
    """A turn's record, read back."""

    user_id: str
    message_id: str
    reply_id: str
    place: Placement
    taken: Taken
    key_charge: KeyCharge | None
    hold_id: str | None
    hold_amount: int
    key_hold: tuple[str, str, int] | None  # account, hold id, amount

    @classmethod
    def of(cls, payload: Payload) -> "_Record":
        p = payload
        user_id = str(p["user_id"])
        title = p.get("title")
        place = Placement(
            owner_id=user_id,
            conversation_id=str(p["conversation_id"]),
            default=bool(p["default"]),
            user_tokens=int(p["user_tokens"] or 0),
            title=None if title is None else str(title),
        )
        taken = Taken(
            user_id,
            str(p["day"]),
            int(p["slot"] or 0),
            int(p["claimed_ms"] or 0),
            int(p["previous_ms"] or 0),
        )
        key_id, key_day = p.get("key_id"), p.get("key_day")
        charge = None if key_id is None else KeyCharge(str(key_id), int(key_day or 0))
        hold_id = p.get("hold_id")
        key_account, key_hold_id = p.get("key_hold_account"), p.get("key_hold_id")
        key_hold = None
        if key_account is not None and key_hold_id is not None:
            key_hold = (str(key_account), str(key_hold_id), int(p.get("key_hold_amount") or 0))
        return cls(
            user_id=user_id,
            message_id=str(p["message_id"]),
            reply_id=str(p["reply_id"]),
            place=place,
            taken=taken,
            key_charge=charge,
            hold_id=None if hold_id is None else str(hold_id),
            hold_amount=int(p.get("hold_amount") or 0),
            key_hold=key_hold,
        )


class ChatTasks:
    def __init__(
        self,
        *,
        recorder: TurnRecorder,
        messages: MessageRepository,
        billing: BillingService,
        open_stream: Callable[[Turn], Awaitable[ChatStream]],
    ) -> None:
        self._recorder = recorder
        self._messages = messages
        self._billing = billing
        self._open = open_stream

    def producer(self, turn: Turn) -> Producer:
        """The task's work: answer the turn as a stream, its deltas into the task's output."""

        async def produce(output: Output) -> TaskResult:
            try:
                stream = await self._open(turn)
            except SimpleChatError as exc:  # nothing was said: the stream gave it all back
                return TaskResult(TaskStatus.FAILED, error_data(exc))
            return await self._pump(stream, output)

        return produce

    async def _pump(self, stream: ChatStream, output: Output) -> TaskResult:
        async with aclosing(stream.events()) as events:
            async for event in events:
                match event:
                    case Delta(text=text):
                        await output.write(text)
                    case Finished(usage=usage):
                        cost = self._recorder.price(stream.turn, usage)
                        final = {**finish_data(stream, event), "cost": str(to_credits(cost))}
                        return TaskResult(TaskStatus.DONE, final, usage, cost)
                    case Failed(error=error):
                        return TaskResult(TaskStatus.FAILED, error_data(error))
        return TaskResult(TaskStatus.FAILED, error_data(SimpleChatError()))  # never reached

    async def on_abandoned(self, task: Task) -> None:
        """The task will never finish where it started (its worker died, or it was cancelled
        or the server stopped before it began): undo the turn unless its reply was stored."""
        record = _Record.of(task.payload)
        if record.hold_id is not None:  # a hold already settled is left alone
            await self._billing.release_held(record.user_id, record.hold_id, record.hold_amount)
        if record.key_hold is not None:
            await self._billing.release_held(*record.key_hold)
        if await self._messages.exists(record.reply_id):
            return
        # Why: the task's own error (task_abandoned, server_stopped), or its cancellation.
        code = str((task.final or {}).get("code") or "")
        if not code:
            code = CANCELLED_CODE if task.status is TaskStatus.CANCELLED else ABANDONED_CODE
        log.warning("chat.task_given_back task=%s message_id=%s code=%s", task.id,
                    record.message_id, code)  # fmt: skip
        await self._recorder.settle_failure(
            record.place,
            record.message_id,
            code,
            taken=record.taken,
            key_charge=record.key_charge,
        )
