"""Pure decisions of the embeddings capability: what inputs are acceptable, their text, and
vectors as OpenAI's base64 (little-endian float32)."""

import base64
import struct
from collections.abc import Callable, Sequence

from simplechat.embeddings.types import Input

MAX_INPUTS = 2048  # OpenAI's limit per request
FLOAT32 = "<{}f"


def input_problem(inputs: Sequence[Input]) -> str | None:
    """Why `inputs` cannot be embedded (None: they can): none at all, too many, an empty
    text or token list, a negative token id."""
    if not inputs:
        return "input is empty: send a text or a list of texts."
    if len(inputs) > MAX_INPUTS:
        return f"input has {len(inputs)} items; at most {MAX_INPUTS} per request."
    for index, item in enumerate(inputs):
        if not item or (isinstance(item, str) and not item.strip()):
            return f"input[{index}] is empty: each input needs some text."
        if not isinstance(item, str) and any(token < 0 for token in item):
            return f"input[{index}] has a negative token id."
    return None


def texts_of(inputs: Sequence[Input], decode: Callable[[Sequence[int]], str]) -> list[str]:
    """Each input as text: token ids are decoded (cl100k_base, what OpenAI's clients encode
    with for models they do not know); `decode` raises ValueError for an unknown id."""
    return [item if isinstance(item, str) else decode(item) for item in inputs]


def too_long(counts: Sequence[int], limit: int) -> int | None:
    """The first input over `limit` tokens (None: none is)."""
    return next((i for i, n in enumerate(counts) if n > limit), None)


def as_base64(vector: Sequence[float]) -> str:
    """The vector as OpenAI's `encoding_format: base64` gives it: little-endian float32."""
    return base64.b64encode(struct.pack(FLOAT32.format(len(vector)), *vector)).decode("ascii")
