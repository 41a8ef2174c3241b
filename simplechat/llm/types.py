"""Value types shared by every layer: the internal turn (messages, tools, options), what a
provider answers (completions, stream chunks, usage) and embeddings.

The turn is vendor-neutral: each vendor module maps it to its wire and back, and each client
dialect (OpenAI chat completions today; Anthropic Messages and OpenAI Responses later) maps
its requests onto it. Its shapes follow what every one of them can say:

- an assistant message carries its text, its tool calls (id, function name, the arguments as
  the JSON text the model wrote: Anthropic's `input` object is that text parsed) and the
  reasoning it showed (kept beside the answer, sent back only to a model that needs it);
- a tool result is a message of role `tool` naming the call it answers (`tool_call_id`;
  Anthropic's `tool_result` block, Responses' `function_call_output`);
- a streamed call arrives as `ToolCallDelta`s: its first delta has its index, id and name,
  the next ones only fragments of its arguments (OpenAI's delta shape, which the others map
  to: Anthropic's `content_block_start`/`input_json_delta`, Responses' `output_item.added`/
  `function_call_arguments.delta`).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from simplechat.llm.pricing import Price

JsonObject = Mapping[str, Any]


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"  # a tool's result, answering one of the assistant's calls


class PartType(StrEnum):
    TEXT = "text"
    IMAGE_URL = "image_url"


@dataclass(frozen=True, slots=True)
class ContentPart:
    """One part of a message with images (OpenAI's content parts): text, or an image's URL
    (https://... or a data: URL)."""

    type: PartType
    text: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the assistant made: `arguments` is the JSON text the model wrote (not checked:
    a model may write invalid JSON, and the client decides what to do with it)."""

    id: str
    name: str
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a prompt. `content` is its text (every text part, joined); `parts` is
    set only when the message has images, and then is what providers send. `tokens` is its
    stored token count, when known.

    An assistant message may carry `tool_calls` (its content then often empty) and the
    `reasoning` it showed; a message of role `tool` answers the call `tool_call_id`."""

    role: Role
    content: str
    tokens: int | None = None
    parts: tuple[ContentPart, ...] | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    reasoning: str | None = None

    @property
    def images(self) -> int:
        return sum(1 for part in self.parts or () if part.type is PartType.IMAGE_URL)

    def text_only(self) -> "ChatMessage":
        """The message without its images (for models that take text only)."""
        return self if self.parts is None else replace(self, parts=None)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens read and written. `reasoning_tokens` and `cached_tokens` are parts of
    `completion_tokens` and `prompt_tokens` (as OpenAI counts them), not additions."""

    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ModelKind(StrEnum):
    CHAT = "chat"
    EMBEDDING = "embedding"


# The parameters a chat model may take, by OpenRouter's `supported_parameters` names (plus
# `parallel_tool_calls` and `n`). `max_tokens` is always taken; `structured_outputs` is
# `response_format` of type json_schema; `reasoning` is also OpenAI's `reasoning_effort`.
CHAT_PARAMETERS: frozenset[str] = frozenset(
    {"temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty"}
    | {"frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "tools", "tool_choice"}
    | {"parallel_tool_calls", "response_format", "structured_outputs", "reasoning", "n"}
)
EMBEDDING_PARAMETERS: frozenset[str] = frozenset({"dimensions"})


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model users can ask for: its public name, provider, upstream id, limits and price
    (None: free), and what it can do.

    `supported_parameters`: what it takes (`CHAT_PARAMETERS` names; for embeddings
    `dimensions`), as OpenRouter's `supported_parameters` says it;
    `replays_reasoning`: its vendor needs the assistant's reasoning sent back in history
    (DeepSeek's thinking tool calls); every other model never gets it back.
    `dimensions`: an embedding model's vector size by default."""

    name: str
    provider: str
    upstream_id: str
    context_window: int
    max_output_tokens: int
    description: str = ""
    takes_images: bool = False  # accepts image parts (OpenAI-style image_url) in messages
    price: Price | None = None
    kind: ModelKind = ModelKind.CHAT
    supported_parameters: frozenset[str] = CHAT_PARAMETERS
    replays_reasoning: bool = False
    dimensions: int | None = None

    def takes(self, parameter: str) -> bool:
        return parameter in self.supported_parameters

    @property
    def tools(self) -> bool:
        return self.takes("tools")

    @property
    def json_output(self) -> bool:
        return self.takes("response_format")

    @property
    def structured_outputs(self) -> bool:
        return self.takes("structured_outputs")

    @property
    def reasoning(self) -> bool:
        return self.takes("reasoning")


@dataclass(frozen=True, slots=True)
class TopLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One output token's log probability, and the likeliest alternatives at its place."""

    token: str
    logprob: float
    bytes: tuple[int, ...] | None = None
    top: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class Choice:
    """One answer of several (`n` > 1): the same fields as a `Completion`'s own."""

    index: int
    text: str
    finish_reason: str = "stop"
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole answer from a provider: the first choice's text, tool calls (then
    `finish_reason` "tool_calls"), reasoning and logprobs; `more` holds choices 1.. when
    `n` > 1 was asked. `usage` covers every choice."""

    text: str
    model: str
    finish_reason: str = "stop"
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    more: tuple[Choice, ...] = ()

    @property
    def choices(self) -> tuple[Choice, ...]:
        first = Choice(
            0, self.text, self.finish_reason, self.tool_calls, self.reasoning, self.logprobs
        )
        return (first, *self.more)


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call. `index` is the call's place among the answer's calls
    (0, 1, ...: parallel calls keep their own). A call's first delta has its `id` and `name`;
    the next ones None, with a fragment of the JSON `arguments`."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """A piece of a streamed answer: text (`delta`), reasoning, tool-call deltas and logprobs,
    any of them. The last chunk carries `finish_reason` and, if known, usage.

    `index` is the choice (for `n` > 1): each choice's pieces carry its index, and each
    choice but the first ends with a chunk of its own finish reason; the last chunk of the
    stream is always choice 0's, with the usage of all."""

    delta: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    reasoning: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    logprobs: tuple[TokenLogprob, ...] = ()
    index: int = 0


# --- what a client asks for beyond sampling ---
@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: its name, description and JSON Schema parameters."""

    name: str
    description: str | None = None
    parameters: JsonObject | None = None
    strict: bool | None = None


class ToolChoiceMode(StrEnum):
    AUTO = "auto"  # the model decides
    NONE = "none"  # no call
    REQUIRED = "required"  # at least one call (Anthropic's "any")
    FUNCTION = "function"  # this one function (`ToolChoice.name`)


@dataclass(frozen=True, slots=True)
class ToolChoice:
    mode: ToolChoiceMode
    name: str | None = None  # with FUNCTION


class ResponseFormatType(StrEnum):
    TEXT = "text"
    JSON_OBJECT = "json_object"
    JSON_SCHEMA = "json_schema"


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """Plain text, any JSON object, or JSON matching `schema` (named `name`)."""

    type: ResponseFormatType
    name: str | None = None
    schema: JsonObject | None = None
    strict: bool | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Reasoning:
    """How much a thinking model thinks: an `effort` ("minimal", "low", "medium", "high"; or
    "none"), a token budget (`max_tokens`), `enabled` False to turn it off, `exclude` to
    think without showing it."""

    effort: str | None = None
    max_tokens: int | None = None
    enabled: bool | None = None
    exclude: bool = False

    @property
    def off(self) -> bool:
        return self.enabled is False or self.effort == "none"


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    """Everything a client may ask of one answer beyond sampling, carried from the edge to
    the vendor untouched (None / empty: not asked). `logit_bias` maps token ids (as text) to a
    bias; `n` is the number of choices."""

    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: Mapping[str, float] | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    user: str | None = None
    n: int = 1
    reasoning: Reasoning | None = None


NO_OPTIONS = GenerationOptions()


@dataclass(frozen=True, slots=True)
class GenerationParams:
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    # The caller's own provider key (bring your own key): used for this call instead of the
    # server's. Never logged; repr hides it.
    api_key: str | None = field(default=None, repr=False)
    options: GenerationOptions = NO_OPTIONS


# --- embeddings ---
@dataclass(frozen=True, slots=True)
class EmbeddingParams:
    dimensions: int | None = None  # None: the model's own size
    user: str | None = None
    api_key: str | None = field(default=None, repr=False)  # as in GenerationParams


@dataclass(frozen=True, slots=True)
class Embeddings:
    """One vector per input, in input order; `usage.prompt_tokens` is what the inputs cost
    (None: the upstream did not say)."""

    vectors: tuple[tuple[float, ...], ...]
    model: str
    usage: Usage | None
