"""Streamed tool calls put right, and a streamed answer put back together (pure, no I/O).

`ToolCallStream` takes a vendor's tool-call fragments as they come (OpenAI's shape, which
OpenRouter, OpenAI-compatible servers and DashScope all use, each with its own quirks) and
gives `ToolCallDelta`s in the one shape clients rely on: a call's first delta has its index,
id and name; the next ones only fragments of its arguments; parallel calls keep their own
indexes (0, 1, ... in the order they began), whatever text comes before or between. The
quirks it absorbs:

- DashScope repeats `"id": ""` and `"type": "function"` on every later fragment, and ends
  with an empty `{"function": {}}` one;
- some servers send a call's name in pieces (the dashscope SDK joins them), others repeat
  it whole on later fragments;
- some give no id at all (one is made: `call_` and 24 hex digits), or no index, or reuse
  one index for two calls with different ids (sglang #6310);
- arguments as a JSON object instead of its text (Ollama): written out as JSON.

A call is announced when its arguments begin, when another call begins, or at the end of
the stream, so its name is whole by then (names come before arguments everywhere).

`StreamAssembler` joins one choice's chunks into the `Completion` a whole call would have
given (what a stream stores once it ends).
"""

import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from simplechat.llm.types import (
    Completion,
    GenerationParams,
    StreamChunk,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    Usage,
)

TOOL_CALL_ID_PREFIX = "call_"
TOOL_CALL_ID_HEX_BYTES = 12
TOOL_CALLS_FINISH = "tool_calls"


def hides_reasoning(params: GenerationParams) -> bool:
    """Whether the caller asked to think without seeing it (`reasoning.exclude`): a vendor
    that cannot hide it itself gets its reasoning dropped here."""
    reasoning = params.options.reasoning
    return reasoning is not None and reasoning.exclude


def without_reasoning(completion: Completion) -> Completion:
    return replace(
        completion,
        reasoning=None,
        more=tuple(replace(choice, reasoning=None) for choice in completion.more),
    )


def chunk_without_reasoning(chunk: StreamChunk) -> StreamChunk | None:
    """The chunk without its reasoning; None when nothing else is left in it."""
    if not chunk.reasoning:
        return chunk
    rest = replace(chunk, reasoning="")
    return None if rest == StreamChunk(index=chunk.index) else rest


def new_tool_call_id() -> str:
    return TOOL_CALL_ID_PREFIX + secrets.token_hex(TOOL_CALL_ID_HEX_BYTES)


def arguments_text(value: Any) -> str:
    """A call's arguments as JSON text (a vendor may send the object itself)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def tool_calls_from(raw: Any, new_id: Callable[[], str] = new_tool_call_id) -> tuple[ToolCall, ...]:
    """The tool calls of a whole (not streamed) message in OpenAI's shape; a call without
    an id gets one, a malformed entry is skipped."""
    calls = []
    for item in raw if isinstance(raw, list) else ():
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            continue
        calls.append(
            ToolCall(
                id=str(item.get("id") or new_id()),
                name=str(function["name"]),
                arguments=arguments_text(function.get("arguments")),
            )
        )
    return tuple(calls)


@dataclass(slots=True)
class _Call:
    index: int  # ours
    upstream_index: int | None
    id: str | None
    name: str = ""
    pending: list[str] = field(default_factory=list)  # arguments before the announcement
    announced: bool = False


class ToolCallStream:
    """One choice's streamed tool calls: `feed` each chunk's `tool_calls` list, `finish` once
    at the end; both give the deltas to pass on."""

    def __init__(self, new_id: Callable[[], str] = new_tool_call_id) -> None:
        self._new_id = new_id
        self._calls: list[_Call] = []

    @property
    def started(self) -> bool:
        """Whether any call began (the answer then finishes with "tool_calls")."""
        return bool(self._calls)

    def feed(self, fragments: Any) -> list[ToolCallDelta]:
        out: list[ToolCallDelta] = []
        for fragment in fragments if isinstance(fragments, list) else ():
            if isinstance(fragment, dict):
                out.extend(self._take(fragment))
        return out

    def finish(self) -> list[ToolCallDelta]:
        out: list[ToolCallDelta] = []
        for call in self._calls:
            if not call.announced and (call.name or call.pending):
                out.append(self._announce(call))
        return out

    def _take(self, fragment: dict[str, Any]) -> list[ToolCallDelta]:
        function = fragment.get("function")
        function = function if isinstance(function, dict) else {}
        name = str(function.get("name") or "")
        arguments = arguments_text(function.get("arguments"))
        upstream_id = str(fragment.get("id") or "") or None
        raw_index = fragment.get("index")
        upstream_index = raw_index if isinstance(raw_index, int) else None
        if not (name or arguments or upstream_id):
            return []  # DashScope's closing `{"function": {}}`
        out: list[ToolCallDelta] = []
        call = self._find(upstream_id, upstream_index)
        if call is None:
            out.extend(self.finish())  # a new call begins: the ones before are whole
            call = _Call(len(self._calls), upstream_index, upstream_id)
            self._calls.append(call)
        elif call.id is None and upstream_id is not None:
            call.id = upstream_id
        if name and not call.announced and name != call.name:
            call.name += name  # a piece of the name (a repeat of the whole name is dropped)
        if not arguments:
            return out
        if not call.announced:
            call.pending.append(arguments)
            out.append(self._announce(call))
        else:
            out.append(ToolCallDelta(call.index, arguments=arguments))
        return out

    def _find(self, upstream_id: str | None, upstream_index: int | None) -> _Call | None:
        if upstream_id is not None:
            same_id = next((c for c in self._calls if c.id == upstream_id), None)
            if same_id is not None:
                return same_id
        if upstream_index is not None:
            same_index = next(
                (c for c in reversed(self._calls) if c.upstream_index == upstream_index), None
            )
            if same_index is None:
                return None
            if upstream_id is not None and same_index.id not in (None, upstream_id):
                return None  # one index reused for another call
            return same_index
        if upstream_id is not None:
            return None
        return self._calls[-1] if self._calls else None

    def _announce(self, call: _Call) -> ToolCallDelta:
        call.announced = True
        call.id = call.id or self._new_id()
        arguments = "".join(call.pending)
        call.pending.clear()
        return ToolCallDelta(call.index, id=call.id, name=call.name, arguments=arguments)


@dataclass(slots=True)
class _Building:
    id: str
    name: str
    arguments: list[str] = field(default_factory=list)


class StreamAssembler:
    """One choice's chunks (choice 0 by default) joined into a `Completion`. Chunks of
    other choices are skipped; usage is taken from whichever chunk carries it."""

    def __init__(self, index: int = 0) -> None:
        self._index = index
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, _Building] = {}
        self._logprobs: list[TokenLogprob] = []
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    def add(self, chunk: StreamChunk) -> None:
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.index != self._index:
            return
        if chunk.delta:
            self._text.append(chunk.delta)
        if chunk.reasoning:
            self._reasoning.append(chunk.reasoning)
        for delta in chunk.tool_calls:
            building = self._calls.get(delta.index)
            if building is None:
                building = self._calls[delta.index] = _Building(delta.id or "", delta.name or "")
            building.arguments.append(delta.arguments)
        self._logprobs.extend(chunk.logprobs)
        if chunk.finish_reason:
            self.finish_reason = chunk.finish_reason

    def add_all(self, chunks: Iterable[StreamChunk]) -> "StreamAssembler":
        for chunk in chunks:
            self.add(chunk)
        return self

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def reasoning(self) -> str | None:
        return "".join(self._reasoning) or None

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(b.id, b.name, "".join(b.arguments)) for _, b in sorted(self._calls.items())
        )

    def completion(self, model: str) -> Completion:
        return Completion(
            text=self.text,
            model=model,
            finish_reason=self.finish_reason or "stop",
            usage=self.usage,
            tool_calls=self.tool_calls,
            reasoning=self.reasoning,
            logprobs=tuple(self._logprobs) or None,
        )
