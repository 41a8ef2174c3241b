"""llm.parameters: what a model cannot take is refused by name, or dropped when asked."""

from dataclasses import replace

import pytest

from simplechat.kit.errors import UnsupportedParameter
from simplechat.llm.catalog import load_catalog
from simplechat.llm.parameters import screen, screen_embedding, unsupported, without
from simplechat.llm.types import (
    CHAT_PARAMETERS,
    EmbeddingParams,
    GenerationOptions,
    GenerationParams,
    ModelSpec,
    Reasoning,
    ResponseFormat,
    ResponseFormatType,
    ToolChoice,
    ToolChoiceMode,
    ToolSpec,
)

CATALOG = load_catalog(None)
BASIC = ModelSpec(
    "basic", "openai", "b", 4096, 512, supported_parameters=frozenset({"max_tokens", "stop"})
)
TOOL = ToolSpec("f")


def asking(**options: object) -> GenerationParams:
    return GenerationParams(max_tokens=100, options=GenerationOptions(**options))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "refused"),
    [
        (GenerationParams(max_tokens=10), []),
        (GenerationParams(max_tokens=10, temperature=0.2, top_p=0.9), ["temperature", "top_p"]),
        (asking(stop=("x",), user="u"), []),  # user: every model takes it
        (asking(tools=(TOOL,)), ["tools"]),
        (asking(tool_choice=ToolChoice(ToolChoiceMode.AUTO)), []),  # the default
        (asking(tool_choice=ToolChoice(ToolChoiceMode.REQUIRED)), ["tool_choice"]),
        (asking(parallel_tool_calls=True), []),  # the default
        (asking(parallel_tool_calls=False), ["parallel_tool_calls"]),
        (asking(response_format=ResponseFormat(ResponseFormatType.TEXT)), []),
        (asking(response_format=ResponseFormat(ResponseFormatType.JSON_OBJECT)),
         ["response_format"]),
        (asking(n=1), []),
        (asking(n=3), ["n"]),
        (asking(reasoning=Reasoning(effort="high")), ["reasoning"]),
        (asking(reasoning=Reasoning(effort="none")), []),  # turning it off is always fine
        (asking(seed=1, logprobs=True, top_logprobs=2, logit_bias={"1": 1.0}),
         ["seed", "logit_bias", "logprobs", "top_logprobs"]),
        (asking(presence_penalty=0.1, frequency_penalty=0.1),
         ["presence_penalty", "frequency_penalty"]),
    ],
)  # fmt: skip
def test_what_a_basic_model_cannot_take(params: GenerationParams, refused: list[str]) -> None:
    assert unsupported(BASIC, params) == refused


def test_json_schema_needs_structured_outputs() -> None:
    schema = asking(response_format=ResponseFormat(ResponseFormatType.JSON_SCHEMA, "x", {}))
    json_only = replace(BASIC, supported_parameters=frozenset({"response_format"}))

    assert unsupported(json_only, schema) == ["response_format"]
    assert unsupported(CATALOG["qwen-plus"], schema) == []
    assert unsupported(CATALOG["qwen-max"], schema) == ["response_format"]


def test_the_builtin_models() -> None:
    tools = asking(tools=(TOOL,), tool_choice=ToolChoice(ToolChoiceMode.FUNCTION, "f"))

    assert unsupported(CATALOG["mistralai/mistral-7b-instruct"], tools) == []
    assert unsupported(CATALOG["openchat/openchat-7b"], tools) == ["tools", "tool_choice"]
    assert unsupported(CATALOG["qwen-turbo"], asking(frequency_penalty=1.0)) == [
        "frequency_penalty"
    ]
    assert unsupported(CATALOG["mistralai/mistral-7b-instruct"], asking(n=2)) == ["n"]
    assert unsupported(CATALOG["mock"], asking(n=2, tools=(TOOL,), logprobs=True)) == []


def test_screen_refuses_by_name() -> None:
    with pytest.raises(UnsupportedParameter) as caught:
        screen(CATALOG["openchat/openchat-7b"], asking(tools=(TOOL,)), drop=False)

    error = caught.value
    assert error.status_code == 400
    assert error.code == "unsupported_parameter"
    assert error.extra == {"param": "tools"}
    assert "'openchat/openchat-7b' does not support the parameter 'tools'" in error.message
    assert "drop_params" in error.message


def test_screen_drops_when_asked() -> None:
    params = GenerationParams(
        max_tokens=50,
        temperature=0.3,
        options=GenerationOptions(
            tools=(TOOL,),
            tool_choice=ToolChoice(ToolChoiceMode.REQUIRED),
            parallel_tool_calls=False,
            stop=("x",),
            n=2,
            user="u",
        ),
    )

    kept = screen(BASIC, params, drop=True)

    assert kept == GenerationParams(max_tokens=50, options=GenerationOptions(stop=("x",), user="u"))
    assert (
        screen(replace(BASIC, supported_parameters=CHAT_PARAMETERS), params, drop=False) == params
    )


def test_without_nothing_is_the_same_params() -> None:
    params = asking(seed=3)

    assert without(params, []) is params


def test_embedding_dimensions() -> None:
    fixed = replace(CATALOG["mock-embedding"], supported_parameters=frozenset())
    asked = EmbeddingParams(dimensions=64)

    assert screen_embedding(CATALOG["mock-embedding"], asked, drop=False) == asked
    assert screen_embedding(fixed, asked, drop=True) == EmbeddingParams()
    with pytest.raises(UnsupportedParameter, match="'dimensions'"):
        screen_embedding(fixed, asked, drop=False)
