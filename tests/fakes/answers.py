"""What the fake upstreams "think": a deterministic model behind every fake's wire format.

Given an OpenAI-shaped request (the DashScope fake converts its native one), `answer` says
what the model replies:

- offered tools (and `tool_choice` not "none") with a last message that is not a tool
  result: it calls tools, `script.calls` when a test set them (two parallel calls by
  default in the tests that set them), else the first (or the forced) tool once, with
  arguments made from its JSON Schema (`example_for`); `script.text_before_calls` is said
  before the calls;
- after tool results: "Results: " and the results' contents joined with "; ";
- `response_format` json_object or json_schema: a JSON text (an instance of the schema);
- otherwise the canned greeting (`default_reply`) or `script.reply`.

Reasoning is given when the test set `script.reasoning`, or when the request asked for it
(each fake knows how its vendor asks: `thinking`); `exclude` hides it. `embedding` makes
a deterministic unit vector from a text's words.
"""

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.upstream import count_words, default_reply

THINKING = "Let me think about this step by step."


@dataclass
class Call:
    name: str
    arguments: str  # JSON text, as a model writes it
    id: str = ""


@dataclass
class Answer:
    text: str = ""
    calls: list[Call] = field(default_factory=list)
    reasoning: str = ""

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.calls else "stop"

    @property
    def completion_tokens(self) -> int:
        words = count_words(self.text) + count_words(self.reasoning)
        return words + sum(count_words(c.arguments) + 1 for c in self.calls)

    @property
    def reasoning_tokens(self) -> int:
        return count_words(self.reasoning)


@dataclass
class Script:
    """What a test makes the fake model say (None: its default behaviour)."""

    reply: str | None = None
    calls: list[tuple[str, dict[str, Any]]] | None = None
    text_before_calls: str = ""
    reasoning: str | None = None


def answer(body: dict[str, Any], script: Script, *, thinking: bool, exclude: bool) -> Answer:
    messages = body.get("messages") or []
    reasoning = "" if exclude else (script.reasoning or (THINKING if thinking else ""))
    tools = [t for t in body.get("tools") or () if isinstance(t, dict)]
    choice = body.get("tool_choice")
    last_role = messages[-1].get("role") if messages else None
    if tools and choice != "none" and last_role != "tool":
        return Answer(script.text_before_calls, _calls(tools, choice, script), reasoning)
    if last_role == "tool":
        results = []
        for m in reversed(messages):
            if m.get("role") != "tool":
                break
            results.insert(0, content_text(m.get("content")))
        return Answer("Results: " + "; ".join(results), [], reasoning)
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        return Answer(json.dumps(example_for(schema, messages)), [], reasoning)
    if fmt.get("type") == "json_object":
        return Answer(
            json.dumps({"answer": script.reply or default_reply(messages)}), [], reasoning
        )
    return Answer(
        script.reply if script.reply is not None else default_reply(messages), [], reasoning
    )


def _calls(tools: list[dict[str, Any]], choice: Any, script: Script) -> list[Call]:
    if script.calls is not None:
        return [
            Call(name, json.dumps(args), f"call_fake{i}")
            for i, (name, args) in enumerate(script.calls)
        ]
    forced = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    function = next(
        (t["function"] for t in tools if t.get("function", {}).get("name") == forced),
        tools[0].get("function") or {},
    )
    arguments = example_for(function.get("parameters") or {}, [])
    return [Call(str(function.get("name")), json.dumps(arguments), "call_fake0")]


def content_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def example_for(schema: dict[str, Any], messages: list[dict[str, Any]]) -> Any:
    """A value matching a (simple) JSON Schema: objects with every property, the first enum
    value, "Eric" for a string named like a name, "Paris" for other strings, 42 for numbers."""
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return example_for(schema["anyOf"][0], messages)
    if kind == "object" or "properties" in schema:
        return {
            name: _named(name, sub, messages)
            for name, sub in (schema.get("properties") or {}).items()
        }
    if kind == "array":
        return [example_for(schema.get("items") or {}, messages)]
    if kind == "integer":
        return 42
    if kind == "number":
        return 4.2
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "Paris"


def _named(name: str, schema: dict[str, Any], messages: list[dict[str, Any]]) -> Any:
    if schema.get("type") == "string" and "name" in name.lower():
        return "Eric"
    return example_for(schema, messages)


def embedding(text: str, size: int) -> list[float]:
    values = [0.0] * size
    for word in text.lower().split():
        digest = hashlib.sha256(word.encode()).digest()
        values[int.from_bytes(digest[:4], "little") % size] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(count_words(content_text(m.get("content"))) for m in messages)
