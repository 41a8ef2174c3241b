"""The internal turn as OpenAI chat-completions JSON, and OpenAI's answers and stream chunks
back as completions and chunks (pure: no I/O). OpenRouter and every OpenAI-compatible server
speak it, with two differences a `WireDialect` names: how reasoning is asked for, and the
field a replayed assistant message carries its reasoning in.

Reasoning comes back as `reasoning_content` (DeepSeek, Qwen, vLLM) or `reasoning`
(OpenRouter): either is read, the first one present. It is sent back in history only to a
model that needs it (`ModelSpec.replays_reasoning`): DeepSeek refuses it otherwise.
"""

import base64
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simplechat.llm.streams import TOOL_CALLS_FINISH, ToolCallStream, tool_calls_from
from simplechat.llm.types import (
    ChatMessage,
    Choice,
    Completion,
    EmbeddingParams,
    Embeddings,
    GenerationOptions,
    GenerationParams,
    ModelSpec,
    PartType,
    Reasoning,
    ResponseFormat,
    ResponseFormatType,
    Role,
    StreamChunk,
    TokenLogprob,
    ToolChoice,
    ToolChoiceMode,
    ToolSpec,
    TopLogprob,
    Usage,
)

DEFAULT_FINISH_REASON = "stop"
FLOAT32_BYTES = 4
REASONING_FIELDS = ("reasoning_content", "reasoning")


@dataclass(frozen=True, slots=True)
class WireDialect:
    """`reasoning_object`: reasoning is asked for with OpenRouter's `reasoning` object (else
    OpenAI's `reasoning_effort`); `reasoning_field`: where a replayed assistant message
    carries its reasoning."""

    reasoning_object: bool = False
    reasoning_field: str = "reasoning_content"


OPENAI_DIALECT = WireDialect()
OPENROUTER_DIALECT = WireDialect(reasoning_object=True, reasoning_field="reasoning")


# --- the request ---
def to_payload(
    model: ModelSpec,
    messages: Sequence[ChatMessage],
    params: GenerationParams,
    *,
    stream: bool,
    dialect: WireDialect = OPENAI_DIALECT,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "model": model.upstream_id,
        "messages": [wire_message(m, model, dialect) for m in messages],
        "max_tokens": params.max_tokens,
    }
    if params.temperature is not None:
        payload["temperature"] = params.temperature
    if params.top_p is not None:
        payload["top_p"] = params.top_p
    payload.update(options_payload(params.options, dialect))
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return payload


def options_payload(options: GenerationOptions, dialect: WireDialect) -> dict[str, Any]:
    """The options as OpenAI's request fields; only those asked for."""
    out: dict[str, Any] = {}
    if options.tools:
        out["tools"] = [tool_dict(tool) for tool in options.tools]
    if options.tool_choice is not None:
        out["tool_choice"] = tool_choice_wire(options.tool_choice)
    if options.parallel_tool_calls is not None:
        out["parallel_tool_calls"] = options.parallel_tool_calls
    if options.response_format is not None:
        out["response_format"] = response_format_dict(options.response_format)
    if options.stop:
        out["stop"] = list(options.stop)
    plain = {
        "seed": options.seed,
        "presence_penalty": options.presence_penalty,
        "frequency_penalty": options.frequency_penalty,
        "top_logprobs": options.top_logprobs,
        "user": options.user,
    }
    out.update({k: v for k, v in plain.items() if v is not None})
    if options.logit_bias:
        out["logit_bias"] = dict(options.logit_bias)
    if options.logprobs:
        out["logprobs"] = True
    if options.n != 1:
        out["n"] = options.n
    if options.reasoning is not None:
        out.update(reasoning_payload(options.reasoning, dialect))
    return out


def reasoning_payload(reasoning: Reasoning, dialect: WireDialect) -> dict[str, Any]:
    if dialect.reasoning_object:
        asked: dict[str, Any] = {
            "effort": reasoning.effort,
            "max_tokens": reasoning.max_tokens,
            "enabled": reasoning.enabled,
        }
        body = {k: v for k, v in asked.items() if v is not None}
        if reasoning.exclude:
            body["exclude"] = True
        return {"reasoning": body}
    return {"reasoning_effort": reasoning.effort} if reasoning.effort else {}


def tool_dict(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = dict(tool.parameters)
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def tool_choice_wire(choice: ToolChoice) -> str | dict[str, Any]:
    if choice.mode is ToolChoiceMode.FUNCTION:
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode.value


def response_format_dict(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.type is not ResponseFormatType.JSON_SCHEMA:
        return {"type": fmt.type.value}
    schema: dict[str, Any] = {"name": fmt.name or "response"}
    if fmt.description is not None:
        schema["description"] = fmt.description
    if fmt.schema is not None:
        schema["schema"] = dict(fmt.schema)
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": schema}


def tool_call_dict(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def wire_message(
    message: ChatMessage, model: ModelSpec, dialect: WireDialect = OPENAI_DIALECT
) -> dict[str, Any]:
    if message.role is Role.TOOL:
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    out: dict[str, Any] = {"role": message.role.value, "content": wire_content(message)}
    if message.tool_calls:
        out["tool_calls"] = [tool_call_dict(c.id, c.name, c.arguments) for c in message.tool_calls]
        if not message.content:
            out["content"] = None
    if message.reasoning and model.replays_reasoning and message.role is Role.ASSISTANT:
        out[dialect.reasoning_field] = message.reasoning
    return out


def wire_content(message: ChatMessage) -> str | list[dict[str, Any]]:
    """The text, or OpenAI's content parts when the message has images."""
    if message.parts is None:
        return message.content
    return [
        {"type": "text", "text": part.text}
        if part.type is PartType.TEXT
        else {"type": "image_url", "image_url": {"url": part.url}}
        for part in message.parts
    ]


# --- the answer ---
def first_choice(body: dict[str, Any]) -> dict[str, Any]:
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return {}


def parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict) or "prompt_tokens" not in raw:
        return None
    completion_details = raw.get("completion_tokens_details")
    prompt_details = raw.get("prompt_tokens_details")
    return Usage(
        int(raw.get("prompt_tokens") or 0),
        int(raw.get("completion_tokens") or 0),
        reasoning_tokens=_int_field(completion_details, "reasoning_tokens"),
        cached_tokens=_int_field(prompt_details, "cached_tokens"),
    )


def _int_field(raw: Any, name: str) -> int:
    return int(raw.get(name) or 0) if isinstance(raw, dict) else 0


def text_of(content: Any) -> str:
    """A message's content as text (some servers answer with a list of text parts)."""
    if isinstance(content, list):
        return "".join(
            str(p.get("text") or "") for p in content if isinstance(p, dict) and "text" in p
        )
    return str(content or "")


def reasoning_of(message: dict[str, Any]) -> str:
    for name in REASONING_FIELDS:
        value = message.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def parse_logprobs(raw: Any) -> tuple[TokenLogprob, ...]:
    """OpenAI's `logprobs.content` (DashScope answers in the same shape)."""
    content = raw.get("content") if isinstance(raw, dict) else None
    out = []
    for item in content if isinstance(content, list) else ():
        if not isinstance(item, dict):
            continue
        top = tuple(
            TopLogprob(
                str(t.get("token", "")), float(t.get("logprob") or 0.0), _bytes(t.get("bytes"))
            )
            for t in item.get("top_logprobs") or ()
            if isinstance(t, dict)
        )
        token = str(item.get("token", ""))
        logprob = float(item.get("logprob") or 0.0)
        out.append(TokenLogprob(token, logprob, _bytes(item.get("bytes")), top))
    return tuple(out)


def _bytes(raw: Any) -> tuple[int, ...] | None:
    return tuple(int(b) for b in raw) if isinstance(raw, list) else None


def finish_of(raw: Any, has_tool_calls: bool) -> str:
    """The finish reason; "tool_calls" when the answer called tools and the server said
    only "stop" (Ollama, some vLLM versions) or nothing."""
    finish = str(raw) if raw else DEFAULT_FINISH_REASON
    if has_tool_calls and finish == DEFAULT_FINISH_REASON:
        return TOOL_CALLS_FINISH
    return finish


def parse_choice(raw: dict[str, Any], index: int) -> Choice | None:
    message = raw.get("message")
    if not isinstance(message, dict):
        return None
    calls = tool_calls_from(message.get("tool_calls"))
    logprobs = parse_logprobs(raw.get("logprobs"))
    return Choice(
        index=raw["index"] if isinstance(raw.get("index"), int) else index,
        text=text_of(message.get("content")),
        finish_reason=finish_of(raw.get("finish_reason"), bool(calls)),
        tool_calls=calls,
        reasoning=reasoning_of(message) or None,
        logprobs=logprobs or None,
    )


def parse_completion(body: dict[str, Any], model: ModelSpec) -> Completion | None:
    """The completion of a whole answer; None when its first choice has no message."""
    raw_choices = body.get("choices")
    if not isinstance(raw_choices, list) or not raw_choices:
        return None
    choices = [
        parse_choice(c, i) if isinstance(c, dict) else None for i, c in enumerate(raw_choices)
    ]
    if choices[0] is None:
        return None
    first, *more = sorted((c for c in choices if c is not None), key=lambda c: c.index)
    return Completion(
        text=first.text,
        model=str(body.get("model") or model.upstream_id),
        finish_reason=first.finish_reason,
        usage=parse_usage(body.get("usage")),
        tool_calls=first.tool_calls,
        reasoning=first.reasoning,
        logprobs=first.logprobs,
        more=tuple(more),
    )


class ChunkReader:
    """OpenAI `chat.completion.chunk`s turned into `StreamChunk`s: `read` each decoded chunk,
    then `end` once (the finish chunks; choice 0's last, with the usage)."""

    def __init__(self) -> None:
        self._calls: dict[int, ToolCallStream] = {}
        self._finish: dict[int, str] = {}
        self.usage: Usage | None = None

    @property
    def finished(self) -> bool:
        """Whether any choice said why it finished (else the stream was cut)."""
        return bool(self._finish)

    def read(self, chunk: dict[str, Any]) -> list[StreamChunk]:
        self.usage = parse_usage(chunk.get("usage")) or self.usage
        out: list[StreamChunk] = []
        for position, choice in enumerate(chunk.get("choices") or ()):
            if not isinstance(choice, dict):
                continue
            raw_index = choice.get("index")
            index = raw_index if isinstance(raw_index, int) else position
            piece = self._piece(index, choice)
            if piece is not None:
                out.append(piece)
            if choice.get("finish_reason"):
                self._finish[index] = str(choice["finish_reason"])
        return out

    def _piece(self, index: int, choice: dict[str, Any]) -> StreamChunk | None:
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        calls = self._calls.setdefault(index, ToolCallStream())
        tool_calls = tuple(calls.feed(delta.get("tool_calls")))
        text = text_of(delta.get("content"))
        reasoning = reasoning_of(delta)
        logprobs = parse_logprobs(choice.get("logprobs"))
        if not (text or reasoning or tool_calls or logprobs):
            return None
        return StreamChunk(
            delta=text, reasoning=reasoning, tool_calls=tool_calls, logprobs=logprobs, index=index
        )

    def end(self) -> list[StreamChunk]:
        out: list[StreamChunk] = []
        indexes = sorted(set(self._calls) | set(self._finish) | {0}, reverse=True)
        for index in indexes:
            calls = self._calls.get(index) or ToolCallStream()
            rest = tuple(calls.finish())
            finish = finish_of(self._finish.get(index), calls.started)
            usage = self.usage if index == 0 else None
            out.append(StreamChunk(finish_reason=finish, usage=usage, tool_calls=rest, index=index))
        return out


# --- embeddings ---
def embeddings_payload(
    model: ModelSpec, inputs: Sequence[str], params: EmbeddingParams
) -> dict[str, Any]:
    """OpenAI's embeddings request; floats are asked for (the edge encodes base64 itself)."""
    payload: dict[str, Any] = {
        "model": model.upstream_id,
        "input": list(inputs),
        "encoding_format": "float",
    }
    if params.dimensions is not None:
        payload["dimensions"] = params.dimensions
    if params.user is not None:
        payload["user"] = params.user
    return payload


def parse_embeddings(body: dict[str, Any], model: ModelSpec, count: int) -> Embeddings | None:
    """The vectors in input order (by each item's `index`); None unless there is exactly one
    per input. A vector sent as base64 (little-endian float32) is decoded."""
    data = body.get("data")
    if not isinstance(data, list) or len(data) != count:
        return None
    vectors: dict[int, tuple[float, ...]] = {}
    for position, item in enumerate(data):
        if not isinstance(item, dict):
            return None
        index = item["index"] if isinstance(item.get("index"), int) else position
        vector = vector_of(item.get("embedding"))
        if vector is None or index in vectors or not 0 <= index < count:
            return None
        vectors[index] = vector
    raw_usage = body.get("usage")
    prompt = _int_field(raw_usage, "prompt_tokens") or _int_field(raw_usage, "total_tokens")
    usage = Usage(prompt, 0) if isinstance(raw_usage, dict) else None
    return Embeddings(
        vectors=tuple(vectors[i] for i in range(count)),
        model=str(body.get("model") or model.upstream_id),
        usage=usage,
    )


def vector_of(raw: Any) -> tuple[float, ...] | None:
    if isinstance(raw, list) and all(isinstance(x, int | float) for x in raw):
        return tuple(float(x) for x in raw)
    if isinstance(raw, str):
        try:
            data = base64.b64decode(raw, validate=True)
        except ValueError:
            return None
        if len(data) % FLOAT32_BYTES:
            return None
        return struct.unpack(f"<{len(data) // FLOAT32_BYTES}f", data)
    return None
