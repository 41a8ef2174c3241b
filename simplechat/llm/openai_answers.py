"""Our answers in OpenAI's chat-completions shape, for /v1 clients (pure): a whole answer's
choices, a stream's chunks (tool calls in OpenAI's delta shape), usage with its details.

Reasoning goes out as `reasoning_content` (what clients read most widely); a call's first
delta carries `index`, `id`, `type` and `function.name` (with `arguments`), the next ones only
`index` and an `arguments` fragment, as the openai SDK's stream helpers, the Vercel AI SDK
and LangChain expect (LiteLLM #39796, #17246: a first delta without id or name breaks them).
"""

from collections.abc import Sequence
from typing import Any

from simplechat.llm.openai_wire import tool_call_dict
from simplechat.llm.types import Choice, StreamChunk, TokenLogprob, Usage


def usage_dict(usage: Usage) -> dict[str, Any]:
    """OpenAI's usage, with the reasoning and cached tokens' details when there are any."""
    out: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.reasoning_tokens:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    if usage.cached_tokens:
        out["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    return out


def logprobs_dict(logprobs: Sequence[TokenLogprob]) -> dict[str, Any]:
    return {
        "content": [
            {
                "token": lp.token,
                "logprob": lp.logprob,
                "bytes": list(lp.bytes) if lp.bytes is not None else None,
                "top_logprobs": [
                    {
                        "token": t.token,
                        "logprob": t.logprob,
                        "bytes": list(t.bytes) if t.bytes is not None else None,
                    }
                    for t in lp.top
                ],
            }
            for lp in logprobs
        ]
    }


def choice_dict(choice: Choice) -> dict[str, Any]:
    """One choice of a whole answer: `message` with its text (null beside tool calls),
    `tool_calls`, `reasoning_content`; `finish_reason`; `logprobs` when asked."""
    message: dict[str, Any] = {"role": "assistant", "content": choice.text}
    if choice.tool_calls:
        message["content"] = choice.text or None
        message["tool_calls"] = [
            tool_call_dict(c.id, c.name, c.arguments) for c in choice.tool_calls
        ]
    if choice.reasoning:
        message["reasoning_content"] = choice.reasoning
    out: dict[str, Any] = {
        "index": choice.index,
        "message": message,
        "finish_reason": choice.finish_reason,
    }
    if choice.logprobs is not None:
        out["logprobs"] = logprobs_dict(choice.logprobs)
    return out


def delta_dict(chunk: StreamChunk) -> dict[str, Any]:
    """A chunk's `delta` as OpenAI streams it: `content`, `reasoning_content`, and each call's
    first delta with `index`, `id`, `type`, `function.name` and `arguments`, the next ones
    with `index` and an `arguments` fragment only."""
    delta: dict[str, Any] = {}
    if chunk.delta:
        delta["content"] = chunk.delta
    if chunk.reasoning:
        delta["reasoning_content"] = chunk.reasoning
    if chunk.tool_calls:
        delta["tool_calls"] = [
            {"index": d.index, "id": d.id, "type": "function",
             "function": {"name": d.name, "arguments": d.arguments}}
            if d.id is not None
            else {"index": d.index, "function": {"arguments": d.arguments}}
            for d in chunk.tool_calls
        ]  # fmt: skip
    return delta


def chunk_choice(chunk: StreamChunk) -> dict[str, Any]:
    """The chunk as one entry of a `chat.completion.chunk`'s `choices`."""
    out: dict[str, Any] = {
        "index": chunk.index,
        "delta": delta_dict(chunk),
        "finish_reason": chunk.finish_reason,
    }
    if chunk.logprobs:
        out["logprobs"] = logprobs_dict(chunk.logprobs)
    return out
