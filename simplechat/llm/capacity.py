"""How many provider requests one worker keeps open at once, and what happens beyond that.

Every call and every stream to a real provider holds one slot of an `UpstreamGate` from the
moment it is sent until it ends, however it ends (answered, failed, cancelled, or the client
went away and the stream was closed). When every slot is taken the next request is refused at
once with `UpstreamCapacity` (503 `upstream_capacity`, `Retry-After: 1`) instead of waiting in
a queue: a queue would only turn an overload into slow answers nobody asked for. The outbound
HTTP session (`registry.make_http_session`) has no connection cap of its own below this one.

The counter is a plain int: a worker runs one event loop thread, and nothing awaits between
the check and the increment.
"""

from collections.abc import AsyncGenerator, Iterator, Sequence
from contextlib import aclosing, contextmanager

from simplechat.kit.errors import UpstreamCapacity
from simplechat.kit.telemetry import record_upstream_in_flight, record_upstream_refusal
from simplechat.llm.base import Provider
from simplechat.llm.types import (
    ChatMessage,
    Completion,
    EmbeddingParams,
    Embeddings,
    GenerationParams,
    ModelSpec,
    StreamChunk,
)


class UpstreamGate:
    """At most `limit` provider requests at once in this process."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the upstream request limit must be at least 1")
        self.limit = limit
        self.in_flight = 0

    def check(self, provider: str) -> None:
        """Raise UpstreamCapacity when no slot is free (without taking one)."""
        if self.in_flight >= self.limit:
            record_upstream_refusal(provider)
            raise UpstreamCapacity(limit=self.limit)

    @contextmanager
    def slot(self, provider: str) -> Iterator[None]:
        """Hold one slot for the duration of the block; UpstreamCapacity when none is free."""
        self.check(provider)
        self.in_flight += 1
        record_upstream_in_flight(1)
        try:
            yield
        finally:
            self.in_flight -= 1
            record_upstream_in_flight(-1)


class GatedProvider:
    """`provider`, with each call and stream holding a slot of `gate` while it runs."""

    def __init__(self, provider: Provider, gate: UpstreamGate) -> None:
        self.name = provider.name
        self.inner = provider
        self._gate = gate

    async def complete(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Completion:
        with self._gate.slot(self.name):
            return await self.inner.complete(model, messages, params)

    async def stream(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[StreamChunk, None]:
        # The slot is taken when the stream is first read (when the request is sent) and given
        # back when the generator ends or is closed: `aclosing` closes the provider's stream
        # (and its HTTP response) before the slot is released.
        with self._gate.slot(self.name):
            async with aclosing(self.inner.stream(model, messages, params)) as chunks:
                async for chunk in chunks:
                    yield chunk

    async def embed(
        self, model: ModelSpec, inputs: Sequence[str], params: EmbeddingParams
    ) -> Embeddings:
        with self._gate.slot(self.name):
            return await self.inner.embed(model, inputs, params)

    async def aclose(self) -> None:
        await self.inner.aclose()
