"""The internal turn as the dashscope SDK's `Generation.call` arguments, and its answers as
OpenAI's shape (pure: no I/O), so that `openai_wire` reads both.

DashScope's native API is close to OpenAI's: `tools`, `tool_choice`, `parallel_tool_calls`,
`response_format`, `stop`, `seed`, `presence_penalty`, `n`, `logprobs`/`top_logprobs` are
the same; reasoning is `enable_thinking` (and `thinking_budget`), answered as
`message.reasoning_content`; tool calls come in OpenAI's shape (streamed with `index`, and
`"id": ""` on every fragment after the first). What differs in the answer: a choice has
`message` where a chunk has `delta` (each streamed chunk carries only new text with
`incremental_output`), `finish_reason` is the string "null" while generating, and usage is
`input_tokens`/`output_tokens` (with `output_tokens_details.reasoning_tokens`).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from simplechat.llm.openai_wire import response_format_dict, tool_call_dict, tool_choice_wire
from simplechat.llm.openai_wire import tool_dict as openai_tool
from simplechat.llm.types import ChatMessage, GenerationOptions, ModelSpec, Role

STILL_GENERATING = "null"  # DashScope's finish_reason on every stream chunk but the last


def sdk_messages(messages: Sequence[ChatMessage], model: ModelSpec) -> list[dict[str, Any]]:
    """The messages as `Generation.call` takes them; a tool result also names its function
    (the `name` of the call it answers, when an assistant message before it made it)."""
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    out: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role.value, "content": message.content}
        if message.role is Role.TOOL:
            item["tool_call_id"] = message.tool_call_id
            if message.tool_call_id in names:
                item["name"] = names[message.tool_call_id]
        if message.tool_calls:
            item["tool_calls"] = [
                tool_call_dict(c.id, c.name, c.arguments) for c in message.tool_calls
            ]
        if message.reasoning and model.replays_reasoning and message.role is Role.ASSISTANT:
            item["reasoning_content"] = message.reasoning
        out.append(item)
    return out


def sdk_options(options: GenerationOptions) -> dict[str, Any]:
    """The options as `Generation.call` keyword arguments; only those asked for (`user` and
    the OpenAI-only `frequency_penalty`/`logit_bias` have no DashScope counterpart)."""
    out: dict[str, Any] = {}
    if options.tools:
        out["tools"] = [openai_tool(tool) for tool in options.tools]
    if options.tool_choice is not None:
        out["tool_choice"] = tool_choice_wire(options.tool_choice)
    if options.parallel_tool_calls is not None:
        out["parallel_tool_calls"] = options.parallel_tool_calls
    if options.response_format is not None:
        out["response_format"] = response_format_dict(options.response_format)
    if options.stop:
        out["stop"] = list(options.stop)
    if options.seed is not None:
        out["seed"] = options.seed
    if options.presence_penalty is not None:
        out["presence_penalty"] = options.presence_penalty
    if options.n != 1:
        out["n"] = options.n
    if options.logprobs:
        out["logprobs"] = True
    if options.top_logprobs is not None:
        out["top_logprobs"] = options.top_logprobs
    reasoning = options.reasoning
    if reasoning is not None:
        out["enable_thinking"] = not reasoning.off
        if reasoning.max_tokens is not None and not reasoning.off:
            out["thinking_budget"] = reasoning.max_tokens
    return out


def openai_usage(usage: Any) -> dict[str, Any] | None:
    """DashScope's usage in OpenAI's words (None when it has no input tokens)."""
    if not isinstance(usage, Mapping) or usage.get("input_tokens") is None:
        return None
    out: dict[str, Any] = {
        "prompt_tokens": int(usage["input_tokens"]),
        "completion_tokens": int(usage.get("output_tokens") or 0),
    }
    details = usage.get("output_tokens_details")
    if isinstance(details, Mapping) and details.get("reasoning_tokens"):
        out["completion_tokens_details"] = {"reasoning_tokens": int(details["reasoning_tokens"])}
    cached = usage.get("prompt_tokens_details")
    if isinstance(cached, Mapping) and cached.get("cached_tokens"):
        out["prompt_tokens_details"] = {"cached_tokens": int(cached["cached_tokens"])}
    return out


def finish(value: Any) -> str | None:
    return None if value in (None, "", STILL_GENERATING) else str(value)


def openai_choices(output: Any, *, key: str) -> list[dict[str, Any]] | None:
    """The output's choices in OpenAI's shape, the message under `key` ("message" for a
    whole answer, "delta" for a stream chunk); None when the output has neither choices nor
    text (the text format's `output.text`)."""
    if not isinstance(output, Mapping):
        return None
    choices = output.get("choices")
    if choices:
        out = []
        for position, choice in enumerate(choices):
            if not isinstance(choice, Mapping):
                continue
            index = choice.get("index")
            item: dict[str, Any] = {
                "index": index if isinstance(index, int) else position,
                key: dict(choice.get("message") or {}),
                "finish_reason": finish(choice.get("finish_reason")),
            }
            if choice.get("logprobs"):
                item["logprobs"] = choice["logprobs"]
            out.append(item)
        return out
    if output.get("text") is not None:
        message = {"role": "assistant", "content": str(output["text"])}
        return [{"index": 0, key: message, "finish_reason": finish(output.get("finish_reason"))}]
    return None


def openai_body(response: Any, *, key: str) -> dict[str, Any] | None:
    """A `GenerationResponse` as an OpenAI completion (`key` "message") or chunk ("delta");
    None when its output is unreadable."""
    choices = openai_choices(getattr(response, "output", None), key=key)
    if choices is None:
        return None
    body: dict[str, Any] = {"choices": choices}
    usage = openai_usage(getattr(response, "usage", None))
    if usage is not None:
        body["usage"] = usage
    return body


def embedding_vectors(output: Any, count: int) -> list[tuple[float, ...]] | None:
    """`output.embeddings` (each with its `text_index`) in input order; None unless there is
    exactly one per input."""
    items = output.get("embeddings") if isinstance(output, Mapping) else None
    if not isinstance(items, list) or len(items) != count:
        return None
    vectors: dict[int, tuple[float, ...]] = {}
    for position, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("embedding"), list):
            return None
        index = item.get("text_index")
        index = index if isinstance(index, int) else position
        if index in vectors or not 0 <= index < count:
            return None
        vectors[index] = tuple(float(x) for x in item["embedding"])
    return [vectors[i] for i in range(count)]
