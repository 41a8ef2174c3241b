"""The mock provider: answers without any network, so a new server can chat at once and
benchmarks measure simplechat rather than an upstream.

Every reply starts with "[mock] ", echoes the user's last message and says why the mock answered.
Usage is a word count (`len(text.split())`), so it is deterministic. The answer is cut to
`params.max_tokens` words, with finish reason "length" when that happens. The options of a
request (tools, response format, ...) are accepted and change nothing.

Embeddings hash each word into one of the vector's places (signed) and normalise the sum, so
texts sharing words are near: enough to try a document search without any upstream.
"""

import asyncio
import hashlib
import math
import re
from collections.abc import AsyncGenerator, Sequence

from simplechat.llm.types import (
    ChatMessage,
    Completion,
    EmbeddingParams,
    Embeddings,
    GenerationParams,
    ModelSpec,
    Role,
    StreamChunk,
    Usage,
)

MOCK_NAME = "mock"
MOCK_PREFIX = "[mock] "
ECHO_MAX_CHARS = 200
NO_KEY_NOTE = (
    "No provider is configured on this server, so the mock answered instead of {model}; "
    "set OPENROUTER_API_KEY, DASHSCOPE_API_KEY or SIMPLECHAT_OPENAI_BASE_URL for real answers."
)
MOCK_MODEL_NOTE = "This is the built-in mock model; choose another model for real answers."
WORD_PIECE = re.compile(r"\S+\s*")
DEFAULT_DIMENSIONS = 256


class MockProvider:
    """A deterministic, free, instant provider. `note` explains why the mock answered
    (it may use `{model}`); `delay` is the pause between streamed words, in seconds."""

    def __init__(self, *, note: str = NO_KEY_NOTE, delay: float = 0.0) -> None:
        self.name = MOCK_NAME
        self._note = note
        self._delay = delay

    async def complete(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Completion:
        text, finish = self._answer(model, messages, params)
        return Completion(
            text=text,
            model=model.name,
            finish_reason=finish,
            usage=self._usage(messages, text),
        )

    async def stream(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[StreamChunk, None]:
        """The same answer as `complete`, one word (with its trailing space) per chunk."""
        text, finish = self._answer(model, messages, params)
        for piece in WORD_PIECE.findall(text):
            if self._delay:
                await asyncio.sleep(self._delay)
            yield StreamChunk(delta=piece)
        yield StreamChunk(finish_reason=finish, usage=self._usage(messages, text))

    async def embed(
        self, model: ModelSpec, inputs: Sequence[str], params: EmbeddingParams
    ) -> Embeddings:
        size = params.dimensions or model.dimensions or DEFAULT_DIMENSIONS
        vectors = tuple(hashed_vector(text, size) for text in inputs)
        usage = Usage(prompt_tokens=sum(len(text.split()) for text in inputs), completion_tokens=0)
        return Embeddings(vectors=vectors, model=model.name, usage=usage)

    async def aclose(self) -> None:
        """Nothing to release."""

    def _answer(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> tuple[str, str]:
        last_user = next((m for m in reversed(messages) if m.role is Role.USER), None)
        echo = " ".join(last_user.content.split()) if last_user else ""
        if len(echo) > ECHO_MAX_CHARS:
            echo = echo[:ECHO_MAX_CHARS].rstrip() + "..."
        images = last_user.images if last_user else 0
        seen = f" and {images} image{'s' if images > 1 else ''}" if images else ""
        note = self._note.format(model=model.name)
        text = f'{MOCK_PREFIX}You said: "{echo}"{seen}. ({note})'
        pieces = WORD_PIECE.findall(text)
        limit = max(1, params.max_tokens)
        if len(pieces) <= limit:
            return text, "stop"
        return "".join(pieces[:limit]).rstrip(), "length"

    @staticmethod
    def _usage(messages: Sequence[ChatMessage], text: str) -> Usage:
        prompt = sum(len(m.content.split()) for m in messages)
        return Usage(prompt_tokens=prompt, completion_tokens=len(text.split()))


def hashed_vector(text: str, size: int) -> tuple[float, ...]:
    """A unit vector of `size` from the words of `text` (all zeros for no words)."""
    values = [0.0] * size
    for word in text.lower().split():
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        place = int.from_bytes(digest[:4], "little") % size
        values[place] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in values))
    return tuple(v / norm for v in values) if norm else tuple(values)
