"""ChatStream: a turn answered as a stream of deltas, finished consistently however it ends.

- Errors before the first chunk (the provider refused, timed out, the prompt was too long
  twice) are raised from `open()`, so the API can answer with a normal JSON error and status.
  If the first chunk takes longer than `first_chunk_wait`, the response starts anyway and
  keep-alive events flow while the upstream is silent.
- When the stream ends, the reply is stored: complete when the upstream finished, incomplete
  when the client disconnected or the upstream broke or sent an error mid-stream. The usage
  is the provider's when it sent one, else counted locally (marked estimated), and the turn
  is charged for it (a cut stream or a client that left pays for what was produced); a
  stream that ends before any text releases its held credits.
- A provider failure gives the quota back, like a failed whole call (the partial reply and
  its usage are still stored). A client that leaves keeps its message counted.
- On client disconnect the upstream request is cancelled (its generator is closed).
"""

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, suppress
from dataclasses import dataclass, field

import anyio

from simplechat.chat.turns import Turn, TurnRecorder
from simplechat.kit.errors import (
    ClientDisconnected,
    ContextTooLong,
    SimpleChatError,
    UpstreamBadResponse,
)
from simplechat.llm.types import StreamChunk, Usage

log = logging.getLogger("simplechat.chat")


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """Nothing from the upstream for a while: the API sends an SSE comment."""


@dataclass(frozen=True, slots=True)
class Delta:
    text: str


@dataclass(frozen=True, slots=True)
class Finished:
    finish_reason: str
    usage: Usage
    estimated: bool


@dataclass(frozen=True, slots=True)
class Failed:
    error: SimpleChatError


StreamEvent = KeepAlive | Delta | Finished | Failed


@dataclass
class _Progress:
    parts: list[str] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


_END = object()  # the upstream finished
CONSUMER_GONE_SECONDS = 120.0  # a response that stops reading this long was abandoned


class _ConsumerGone(Exception):
    """The response stopped reading the stream (never started, or its client vanished)."""


Item = StreamChunk | BaseException | object


class ChatStream:
    """Made by `ChatService.stream`; iterate `events()`.

    One producer task iterates the provider's stream (so the upstream request lives in one
    task) and hands chunks over a small queue; the consumer adds keep-alives while it waits.
    """

    def __init__(self, recorder: TurnRecorder, turn: Turn, keepalive_seconds: float) -> None:
        self.turn = turn
        self._recorder = recorder
        self._keepalive = keepalive_seconds
        self._queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=8)
        self._producer: asyncio.Task[None] | None = None
        self._first: Item | None = None
        self._progress = _Progress()

    @classmethod
    async def open(
        cls,
        recorder: TurnRecorder,
        turn: Turn,
        *,
        first_chunk_wait: float,
        keepalive_seconds: float,
    ) -> "ChatStream":
        stream = cls(recorder, turn, keepalive_seconds)
        stream._producer = asyncio.create_task(stream._produce())
        try:
            stream._first = await asyncio.wait_for(stream._queue.get(), first_chunk_wait)
        except TimeoutError:
            pass  # slow upstream: start the response, keep-alives will flow
        except BaseException:  # the client left while we waited for the first chunk
            await stream._stop_producer()
            gone = ClientDisconnected("The client disconnected before the answer began.")
            await asyncio.shield(recorder.fail_turn(turn, gone, give_back=False))
            raise
        if isinstance(stream._first, BaseException):
            error = stream._first
            await stream._stop_producer()
            await asyncio.shield(recorder.fail_turn(stream.turn, error))
            raise error
        return stream

    async def _produce(self) -> None:
        """Feed the queue from the provider; 'context too long' before output retries tighter."""
        retried = False
        while True:
            turn = self.turn
            upstream = turn.provider.stream(turn.model, turn.prompt.messages, turn.params)
            produced = False
            try:
                async with aclosing(upstream):
                    async for chunk in upstream:
                        produced = True
                        await self._put(chunk)
                await self._put(_END)
                return
            except _ConsumerGone:
                log.warning("chat.stream_abandoned model=%s", turn.model.name)
                return  # nobody reads any more: the upstream request is closed above
            except ContextTooLong as exc:
                if produced or retried:
                    await self._put(exc)
                    return
                retried = True
                self.turn = self._recorder.tighter(turn)
            except Exception as exc:  # handed to the consumer, which decides what it means
                await self._put(exc)
                return

    async def _put(self, item: Item) -> None:
        """Hand an item over; a consumer that stops reading for long is gone."""
        if not self._queue.full():  # the usual case: no timer (wait_for would add a task)
            self._queue.put_nowait(item)
            return
        try:
            async with asyncio.timeout(CONSUMER_GONE_SECONDS):
                await self._queue.put(item)
        except TimeoutError as exc:
            raise _ConsumerGone from exc

    async def _get(self) -> Item | KeepAlive:
        """The next item, or KeepAlive when none came for the keep-alive interval."""
        if not self._queue.empty():  # as in _put: no timer while chunks keep coming
            return self._queue.get_nowait()
        try:
            async with asyncio.timeout(self._keepalive):
                return await self._queue.get()
        except TimeoutError:
            return KeepAlive()

    async def _stop_producer(self) -> None:
        if self._producer is not None and not self._producer.done():
            self._producer.cancel()
            with suppress(asyncio.CancelledError):
                await self._producer

    @property
    def message_id(self) -> str:
        return self.turn.message_id

    @property
    def model_name(self) -> str:
        return self.turn.model.name

    @property
    def truncated(self) -> bool:
        return self.turn.prompt.truncated

    @property
    def mock(self) -> bool:
        return self.turn.mock

    async def events(self) -> AsyncGenerator[StreamEvent, None]:
        """Deltas (and keep-alives), then exactly one Finished or Failed. Stores the reply."""
        progress = self._progress
        outcome: StreamEvent | None = None
        try:
            async for chunk in self._chunks():
                if isinstance(chunk, KeepAlive):
                    yield chunk
                    continue
                if chunk.usage is not None:
                    progress.usage = chunk.usage
                if chunk.finish_reason:
                    progress.finish_reason = chunk.finish_reason
                if chunk.delta:
                    progress.parts.append(chunk.delta)
                    yield Delta(chunk.delta)
            outcome = await self._finish(complete=True)
        except SimpleChatError as exc:
            outcome = await self._finish(complete=False, error=exc)
        finally:
            if outcome is None:  # the client went away (cancelled or closed mid-stream)
                with anyio.CancelScope(shield=True):
                    await self._stop_producer()
                    await self._finish(complete=False, client_gone=True)
        yield outcome

    async def _chunks(self) -> AsyncIterator[StreamChunk | KeepAlive]:
        while True:
            if self._first is not None:
                item, self._first = self._first, None
            else:
                item = await self._get()
                if isinstance(item, KeepAlive):
                    yield item
                    continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, StreamChunk)
            yield item

    async def _finish(
        self, *, complete: bool, error: SimpleChatError | None = None, client_gone: bool = False
    ) -> StreamEvent:
        """Store what was generated; the last event of the stream."""
        progress, turn = self._progress, self.turn
        if complete and progress.finish_reason is None:
            complete, error = False, UpstreamBadResponse("The upstream stream ended early.")
        if client_gone and not progress.parts:
            # The upstream was called; the client left before any text: the message stays,
            # unanswered, and counts like any other.
            gone = ClientDisconnected("The client disconnected before the answer began.")
            await self._recorder.fail_turn(turn, gone, give_back=False)
            return Failed(gone)
        if error is not None and not progress.parts:
            await self._recorder.fail_turn(turn, error)
            return Failed(error)
        tokens = await self._recorder.count(progress.text)
        estimated = progress.usage is None
        usage = progress.usage or Usage(
            prompt_tokens=turn.prompt.prompt_tokens, completion_tokens=tokens
        )
        await self._recorder.record_reply(
            turn, progress.text, usage, complete=complete, estimated=estimated, tokens=tokens
        )
        if error is not None:
            # The upstream failed: the partial reply and its usage are kept, and like any
            # failed call the message does not count against the limits.
            log.info("chat.stream_broken code=%s chars=%s", error.error_code, len(progress.text))
            await self._recorder.give_back(turn.admission, turn.key_charge)
            return Failed(error)
        return Finished(progress.finish_reason or "stop", usage, estimated)
