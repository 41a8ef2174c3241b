"""ToolCallStream: vendors' streamed tool-call fragments put into OpenAI's delta shape;
StreamAssembler: a stream joined back into a completion."""

from itertools import count
from typing import Any

import pytest

from simplechat.llm.streams import StreamAssembler, ToolCallStream, tool_calls_from
from simplechat.llm.types import StreamChunk, ToolCall, ToolCallDelta, Usage


def ids() -> Any:
    numbers = count()
    return lambda: f"call_made{next(numbers)}"


def run(*chunks: list[dict[str, Any]]) -> list[ToolCallDelta]:
    stream = ToolCallStream(new_id=ids())
    out: list[ToolCallDelta] = []
    for fragments in chunks:
        out.extend(stream.feed(fragments))
    return out + stream.finish()


def frag(index: int | None = None, id: str | None = None, name: str | None = None,
         arguments: Any = None, **more: Any) -> dict[str, Any]:  # fmt: skip
    function: dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if arguments is not None:
        function["arguments"] = arguments
    out: dict[str, Any] = {"function": function, **more}
    if index is not None:
        out["index"] = index
    if id is not None:
        out["id"] = id
    return out


def joined(deltas: list[ToolCallDelta]) -> dict[int, tuple[str | None, str | None, str]]:
    calls: dict[int, tuple[str | None, str | None, str]] = {}
    for d in deltas:
        call_id, name, arguments = calls.get(d.index, (None, None, ""))
        calls[d.index] = (call_id or d.id, name or d.name, arguments + d.arguments)
    return calls


def test_openai_two_calls_one_after_the_other() -> None:
    deltas = run(
        [frag(0, "call_a", "get_weather", "")],
        [frag(0, arguments='{"city":')],
        [frag(0, arguments=' "Paris"}')],
        [frag(1, "call_b", "get_weather", "")],
        [frag(1, arguments='{"city": "Tokyo"}')],
    )

    assert deltas == [
        ToolCallDelta(0, "call_a", "get_weather", '{"city":'),
        ToolCallDelta(0, arguments=' "Paris"}'),
        ToolCallDelta(1, "call_b", "get_weather", '{"city": "Tokyo"}'),
    ]


def test_dashscope_repeats_empty_ids_and_closes_with_an_empty_fragment() -> None:
    deltas = run(
        [frag(0, "call_8f", "get_weather", '{"city": "', type="function")],
        [frag(0, "", None, 'Paris"}', type="function")],
        [frag(1, "call_2b", "get_weather", '{"city":', type="function")],
        [frag(1, "", None, ' "Tokyo"}', type="function")],
        [frag(1, "", type="function")],  # `{"function": {}}`
    )

    assert joined(deltas) == {
        0: ("call_8f", "get_weather", '{"city": "Paris"}'),
        1: ("call_2b", "get_weather", '{"city": "Tokyo"}'),
    }
    assert [d.index for d in deltas if d.id] == [0, 1]


def test_interleaved_fragments_keep_their_calls() -> None:
    deltas = run(
        [frag(0, "call_a", "f", "")],
        [frag(0, arguments='{"x":')],
        [frag(1, "call_b", "g", "")],
        [frag(0, arguments=" 1}")],
        [frag(1, arguments='{"y": 2}')],
    )

    assert joined(deltas) == {0: ("call_a", "f", '{"x": 1}'), 1: ("call_b", "g", '{"y": 2}')}


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        # the name in pieces (the dashscope SDK joins them): announced whole
        ([[frag(0, "c1", "get_")], [frag(0, name="weather")], [frag(0, arguments="{}")]],
         {0: ("c1", "get_weather", "{}")}),
        # the whole name repeated on every fragment
        ([[frag(0, "c1", "lookup", "{")], [frag(0, name="lookup", arguments="}")]],
         {0: ("c1", "lookup", "{}")}),
        # no id at all: one is made
        ([[frag(0, None, "lookup", "{}")]], {0: ("call_made0", "lookup", "{}")}),
        # no index: the id says which call (or the last one)
        ([[frag(None, "c1", "f", "{")], [frag(None, None, None, "}")],
          [frag(None, "c2", "g", "[]")]],
         {0: ("c1", "f", "{}"), 1: ("c2", "g", "[]")}),
        # one index reused for two calls with their own ids (sglang #6310)
        ([[frag(0, "c1", "f", "{}")], [frag(0, "c2", "g", "{}")]],
         {0: ("c1", "f", "{}"), 1: ("c2", "g", "{}")}),
        # arguments as an object (Ollama)
        ([[frag(0, "c1", "f", {"city": "Paris"})]], {0: ("c1", "f", '{"city": "Paris"}')}),
        # a call that never got arguments is announced at the end
        ([[frag(0, "c1", "now", "")]], {0: ("c1", "now", "")}),
        # the upstream numbers its calls from 3: ours start at 0
        ([[frag(3, "c1", "f", "{}")], [frag(4, "c2", "g", "{}")]],
         {0: ("c1", "f", "{}"), 1: ("c2", "g", "{}")}),
    ],
)  # fmt: skip
def test_quirks(
    chunks: list[list[dict[str, Any]]], expected: dict[int, tuple[str, str, str]]
) -> None:
    deltas = run(*chunks)

    assert joined(deltas) == expected
    for index in expected:
        first = next(d for d in deltas if d.index == index)
        assert first.id is not None  # every call's first delta says who it is
        assert first.name == expected[index][1]
        assert all(
            d.id is None and d.name is None for d in deltas if d.index == index and d is not first
        )


def test_a_call_is_announced_when_the_next_begins() -> None:
    stream = ToolCallStream(new_id=ids())

    assert stream.feed([frag(0, "c1", "now", "")]) == []  # the name may still grow
    assert stream.feed([frag(1, "c2", "later", "")]) == [ToolCallDelta(0, "c1", "now", "")]
    assert stream.finish() == [ToolCallDelta(1, "c2", "later", "")]
    assert stream.started


def test_garbage_is_ignored() -> None:
    assert run(["x", 3, {"function": "no"}], None, {}) == []  # type: ignore[arg-type]


def test_whole_tool_calls_get_ids_and_skip_the_malformed() -> None:
    raw = [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"type": "function", "function": {"name": "g", "arguments": {"a": 1}}},
        {"type": "function", "function": {"arguments": "{}"}},
        "junk",
    ]

    assert tool_calls_from(raw, ids()) == (
        ToolCall("c1", "f", "{}"),
        ToolCall("call_made0", "g", '{"a": 1}'),
    )
    assert tool_calls_from(None) == ()


def test_assembler_joins_one_choice() -> None:
    chunks = [
        StreamChunk(reasoning="hmm "),
        StreamChunk(reasoning="ok"),
        StreamChunk(delta="Checking"),
        StreamChunk(delta="other", index=1),
        StreamChunk(tool_calls=(ToolCallDelta(0, "c1", "f", '{"a"'),)),
        StreamChunk(
            tool_calls=(ToolCallDelta(1, "c2", "g", ""), ToolCallDelta(0, arguments=": 1}"))
        ),
        StreamChunk(finish_reason="stop", index=1),
        StreamChunk(finish_reason="tool_calls", usage=Usage(5, 7, reasoning_tokens=2)),
    ]

    done = StreamAssembler().add_all(chunks)
    other = StreamAssembler(index=1).add_all(chunks)

    completion = done.completion("m")
    assert completion.text == "Checking"
    assert completion.reasoning == "hmm ok"
    assert completion.tool_calls == (ToolCall("c1", "f", '{"a": 1}'), ToolCall("c2", "g", ""))
    assert completion.finish_reason == "tool_calls"
    assert completion.usage == Usage(5, 7, reasoning_tokens=2)
    assert (other.text, other.finish_reason, other.tool_calls) == ("other", "stop", ())
