"""The Provider interface every upstream adapter implements.

A provider turns a prompt (already trimmed to fit) into a `Completion`, or streams it as
`StreamChunk`s. Adapters translate their transport and vendor errors into the `UpstreamError`
family from `simplechat.kit.errors` at their own boundary (`raise ... from exc`), and never put an
API key in an error message or a log line.
"""

from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from simplechat.config import Settings
from simplechat.llm.retry import RetryPolicy
from simplechat.llm.types import (
    CHAT_PARAMETERS,
    ChatMessage,
    Completion,
    EmbeddingParams,
    Embeddings,
    GenerationParams,
    ModelSpec,
    StreamChunk,
)


class Provider(Protocol):
    """What the chat service needs from an upstream."""

    name: str

    async def complete(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Completion: ...

    def stream(
        self, model: ModelSpec, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[StreamChunk, None]: ...

    async def embed(
        self, model: ModelSpec, inputs: Sequence[str], params: EmbeddingParams
    ) -> Embeddings:
        """One vector per input, for a model of kind embedding."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Vendor:
    """Everything simplechat knows of one upstream, in one place: its name (the models file's
    `provider`), how it is configured and described (check-config), and how it is built."""

    name: str
    label: str
    configured: Callable[[Settings], bool]
    describe: Callable[[Settings], str]  # what it uses, or what to set
    build: Callable[[Settings, aiohttp.ClientSession, RetryPolicy], Provider]
    sends_images: bool = False  # its adapter sends OpenAI-style image parts
    # What a model of the models file takes when its entry does not say
    # (`supported_parameters`): the parameters this vendor's API accepts.
    chat_parameters: frozenset[str] = CHAT_PARAMETERS
    # Built without a server key, when users bring their own (SIMPLECHAT_BYOK) and the server
    # has none for it: every call then carries the user's key (chat refuses a call without).
    build_byok: Callable[[Settings, aiohttp.ClientSession, RetryPolicy], Provider] | None = None
