"""OpenAI-compatible wire models for /v1 (field names exist only here, at the edge).

A request maps onto the internal turn (`llm.types`): `ChatCompletionRequest.to_domain()` its
messages (assistant tool calls, tool results, the reasoning a client sends back),
`to_options()` everything beyond sampling (tools, tool_choice, parallel_tool_calls,
response_format, stop, seed, the penalties, logit_bias, logprobs/top_logprobs, user, n,
reasoning_effort or OpenRouter's `reasoning`). `drop_params` (LiteLLM's name) asks for what
the model cannot take to be dropped instead of refused.
"""

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simplechat.chat.schemas import (
    CONVERSATION_ID,
    CapabilitiesPublic,
    ImagePart,
    TextPart,
    UsagePublic,
    parts_to_domain,
)
from simplechat.llm.types import (
    ChatMessage,
    GenerationOptions,
    ModelSpec,
    Reasoning,
    ResponseFormat,
    ResponseFormatType,
    Role,
    ToolCall,
    ToolChoice,
    ToolChoiceMode,
    ToolSpec,
)

MAX_TOKENS = 1_000_000  # as /llm/message takes
ROLES = {
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
    "tool": Role.TOOL,
}
FUNCTION_NAME = r"^[a-zA-Z0-9_.-]{1,64}$"  # OpenAI's rule for tool names (and a dot)
MAX_STOP_SEQUENCES = 4  # OpenAI's limit
MAX_CHOICES = 8  # `n`: each choice is generated (and billed); more is refused
EFFORTS = Literal["none", "minimal", "low", "medium", "high"]


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]  # no audio yet


class FunctionCall(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1)
    arguments: str = Field(default="", description="The arguments as JSON text")

    @field_validator("arguments", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        """Some clients send the arguments as an object: kept as its JSON text."""
        return json.dumps(value) if isinstance(value, dict | list) else value


class ToolCallIn(BaseModel):
    """An assistant message's call, as the client got it (and sends it back)."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1)
    type: Literal["function"] = "function"
    function: FunctionCall

    def to_domain(self) -> ToolCall:
        return ToolCall(self.id, self.function.name, self.function.arguments)


class OpenAIMessage(BaseModel):
    """A message of the client's conversation. `tool` answers `tool_call_id`; an assistant
    message may carry `tool_calls` (its content then null) and the reasoning it showed
    (`reasoning_content`, or OpenRouter's `reasoning`: kept, sent on only to models that
    need it)."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = Field(default=None, min_length=1)
    reasoning_content: str | None = None
    reasoning: str | None = None

    @model_validator(mode="after")
    def _fits_its_role(self) -> "OpenAIMessage":
        if self.role == "tool" and self.tool_call_id is None:
            raise ValueError("a tool message needs the tool_call_id of the call it answers")
        if self.role != "tool" and self.tool_call_id is not None:
            raise ValueError("only a tool message has a tool_call_id")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only an assistant message has tool_calls")
        return self

    def to_domain(self) -> ChatMessage:
        role = ROLES[self.role]
        calls = tuple(call.to_domain() for call in self.tool_calls or ())
        reasoning = (self.reasoning_content or self.reasoning) if role is Role.ASSISTANT else None
        more: dict[str, Any] = {
            "tool_calls": calls,
            "tool_call_id": self.tool_call_id,
            "reasoning": reasoning or None,
        }
        if not isinstance(self.content, list):
            return ChatMessage(role, self.content or "", **more)
        text, parts = parts_to_domain(self.content)
        has_images = len(parts) != sum(1 for p in self.content if isinstance(p, TextPart))
        return ChatMessage(role, text, parts=parts if has_images else None, **more)


class FunctionDefinition(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(pattern=FUNCTION_NAME, examples=["get_weather"])
    description: str | None = None
    parameters: dict[str, Any] | None = Field(default=None, description="A JSON Schema")
    strict: bool | None = None


class ToolIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["function"]
    function: FunctionDefinition

    def to_domain(self) -> ToolSpec:
        f = self.function
        return ToolSpec(f.name, f.description, f.parameters, f.strict)


class NamedFunction(BaseModel):
    name: str = Field(pattern=FUNCTION_NAME)


class NamedToolChoice(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["function"]
    function: NamedFunction


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str = Field(pattern=FUNCTION_NAME)
    description: str | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextFormat(BaseModel):
    type: Literal["text"]


class JsonObjectFormat(BaseModel):
    type: Literal["json_object"]


class JsonSchemaResponseFormat(BaseModel):
    type: Literal["json_schema"]
    json_schema: JsonSchemaFormat


ResponseFormatIn = Annotated[
    TextFormat | JsonObjectFormat | JsonSchemaResponseFormat, Field(discriminator="type")
]


class ReasoningIn(BaseModel):
    """OpenRouter's `reasoning`: an effort or a token budget; `exclude` hides it."""

    model_config = ConfigDict(extra="allow")
    effort: EFFORTS | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    enabled: bool | None = None
    exclude: bool = False


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request; fields simplechat does not know are accepted and
    ignored."""

    model_config = ConfigDict(extra="allow")
    model: str | None = Field(default=None, examples=["mistralai/mistral-7b-instruct"])
    messages: list[OpenAIMessage] = Field(
        min_length=1, examples=[[{"role": "user", "content": "hi, my name is Eric"}]]
    )
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    tools: list[ToolIn] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormatIn | None = None
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=-(2**53), le=2**53)  # what JSON carries exactly
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, Annotated[float, Field(ge=-100, le=100)]] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    user: str | None = None
    n: int | None = Field(default=None, ge=1, le=MAX_CHOICES)
    reasoning_effort: EFFORTS | None = None
    reasoning: ReasoningIn | None = None
    # LiteLLM's name: what the model cannot take is dropped instead of refused (400).
    drop_params: bool | None = None
    # simplechat's own: the openai SDK sends it with extra_body={"conversation_id": ...}
    conversation_id: str | None = CONVERSATION_ID

    @field_validator("stop")
    @classmethod
    def _few_stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > MAX_STOP_SEQUENCES:
            raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "ChatCompletionRequest":
        names = {tool.function.name for tool in self.tools or ()}
        if (
            isinstance(self.tool_choice, NamedToolChoice)
            and self.tool_choice.function.name not in names
        ):
            raise ValueError(
                f"tool_choice names {self.tool_choice.function.name!r}, which is not in tools"
            )
        if self.top_logprobs is not None and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs: true")
        return self

    def to_domain(self) -> list[ChatMessage]:
        return [message.to_domain() for message in self.messages]

    def to_options(self) -> GenerationOptions:
        """Everything beyond sampling, as the internal turn carries it."""
        stop = [self.stop] if isinstance(self.stop, str) else self.stop or []
        return GenerationOptions(
            tools=tuple(tool.to_domain() for tool in self.tools or ()),
            tool_choice=self._tool_choice(),
            parallel_tool_calls=self.parallel_tool_calls,
            response_format=self._response_format(),
            stop=tuple(stop),
            seed=self.seed,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
            logit_bias=dict(self.logit_bias) if self.logit_bias else None,
            logprobs=bool(self.logprobs),
            top_logprobs=self.top_logprobs,
            user=self.user,
            n=self.n or 1,
            reasoning=self._reasoning(),
        )

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def _tool_choice(self) -> ToolChoice | None:
        if self.tool_choice is None:
            return None
        if isinstance(self.tool_choice, NamedToolChoice):
            return ToolChoice(ToolChoiceMode.FUNCTION, self.tool_choice.function.name)
        return ToolChoice(ToolChoiceMode(self.tool_choice))

    def _response_format(self) -> ResponseFormat | None:
        fmt = self.response_format
        if fmt is None:
            return None
        if isinstance(fmt, JsonSchemaResponseFormat):
            s = fmt.json_schema
            return ResponseFormat(
                ResponseFormatType.JSON_SCHEMA, s.name, s.json_schema, s.strict, s.description
            )
        return ResponseFormat(ResponseFormatType(fmt.type))

    def _reasoning(self) -> Reasoning | None:
        if self.reasoning is not None:
            r = self.reasoning
            return Reasoning(r.effort or self.reasoning_effort, r.max_tokens, r.enabled, r.exclude)
        if self.reasoning_effort is not None:
            return Reasoning(effort=self.reasoning_effort)
        return None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: UsagePublic | None = None


class ModelCard(BaseModel):
    """OpenAI's model object, with what the model can do (OpenRouter's `context_length`
    and `supported_parameters` among them)."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str
    kind: Literal["chat", "embedding"]
    context_window: int
    context_length: int
    max_output_tokens: int
    capabilities: CapabilitiesPublic
    supported_parameters: list[str]
    dimensions: int | None = None

    @classmethod
    def from_domain(cls, spec: ModelSpec) -> "ModelCard":
        return cls(
            id=spec.name,
            owned_by=spec.provider,
            kind=spec.kind.value,
            context_window=spec.context_window,
            context_length=spec.context_window,
            max_output_tokens=spec.max_output_tokens,
            capabilities=CapabilitiesPublic.from_domain(spec),
            supported_parameters=sorted(spec.supported_parameters),
            dimensions=spec.dimensions,
        )


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None
    param: Any = None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail
