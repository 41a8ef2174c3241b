"""Which of the parameters asked for a model can take, decided from its catalog entry (pure:
no I/O, no settings).

A parameter a model cannot take is never dropped without a word: `screen` refuses it with a
400 `unsupported_parameter` naming it, unless the caller asked for such parameters to be
dropped (LiteLLM's `drop_params`: the server's SIMPLECHAT_DROP_UNSUPPORTED_PARAMS, or the
request's own `drop_params`). What each parameter needs (`ModelSpec.supported_parameters`,
OpenRouter's names):

    temperature, top_p, stop, seed, presence_penalty, frequency_penalty, logit_bias,
    logprobs, top_logprobs, tools        the parameter of the same name
    tool_choice                          "tool_choice", unless it is "auto" (the default)
    parallel_tool_calls                  "parallel_tool_calls", unless it is true (the default)
    response_format                      json_object: "response_format"; json_schema:
                                         "structured_outputs"; text: nothing
    n                                    "n", when above 1
    reasoning (and reasoning_effort)     "reasoning", unless it turns reasoning off
    user, max_tokens                     nothing (every model takes them)

Embeddings: `dimensions` needs "dimensions".
"""

from dataclasses import replace

from simplechat.kit.errors import UnsupportedParameter
from simplechat.llm.types import (
    NO_OPTIONS,
    EmbeddingParams,
    GenerationOptions,
    GenerationParams,
    ModelSpec,
    ResponseFormatType,
    ToolChoiceMode,
)

DROP_HINT = "leave it out, or send drop_params: true to have what a model cannot take dropped"


def asked(params: GenerationParams) -> list[tuple[str, str]]:
    """(request name, the capability it needs) of each parameter `params` asks for."""
    o = params.options
    plain: list[tuple[str, bool]] = [
        ("temperature", params.temperature is not None),
        ("top_p", params.top_p is not None),
        ("stop", bool(o.stop)),
        ("seed", o.seed is not None),
        ("presence_penalty", o.presence_penalty is not None),
        ("frequency_penalty", o.frequency_penalty is not None),
        ("logit_bias", bool(o.logit_bias)),
        ("logprobs", o.logprobs),
        ("top_logprobs", o.top_logprobs is not None),
        ("tools", bool(o.tools)),
        (
            "tool_choice",
            o.tool_choice is not None and o.tool_choice.mode is not ToolChoiceMode.AUTO,
        ),
        ("parallel_tool_calls", o.parallel_tool_calls is False),
        ("n", o.n > 1),
        ("reasoning", o.reasoning is not None and not o.reasoning.off),
    ]
    out = [(name, name) for name, given in plain if given]
    fmt = o.response_format
    if fmt is not None and fmt.type is ResponseFormatType.JSON_OBJECT:
        out.append(("response_format", "response_format"))
    elif fmt is not None and fmt.type is ResponseFormatType.JSON_SCHEMA:
        out.append(("response_format", "structured_outputs"))
    return out


def unsupported(model: ModelSpec, params: GenerationParams) -> list[str]:
    """The request names of the parameters asked for that `model` cannot take."""
    return [name for name, needs in asked(params) if not model.takes(needs)]


def without(params: GenerationParams, names: list[str]) -> GenerationParams:
    """`params` without the parameters `names` (request names, as `unsupported` gives)."""
    if not names:
        return params
    dropped = set(names)
    o = params.options
    options = replace(
        o,
        stop=() if "stop" in dropped else o.stop,
        seed=None if "seed" in dropped else o.seed,
        presence_penalty=None if "presence_penalty" in dropped else o.presence_penalty,
        frequency_penalty=None if "frequency_penalty" in dropped else o.frequency_penalty,
        logit_bias=None if "logit_bias" in dropped else o.logit_bias,
        logprobs=False if "logprobs" in dropped else o.logprobs,
        top_logprobs=None if "top_logprobs" in dropped else o.top_logprobs,
        # without tools, what steers them goes too
        tools=() if "tools" in dropped else o.tools,
        tool_choice=None if {"tools", "tool_choice"} & dropped else o.tool_choice,
        parallel_tool_calls=(
            None if {"tools", "parallel_tool_calls"} & dropped else o.parallel_tool_calls
        ),
        response_format=None if "response_format" in dropped else o.response_format,
        n=1 if "n" in dropped else o.n,
        reasoning=None if "reasoning" in dropped else o.reasoning,
    )
    return replace(
        params,
        temperature=None if "temperature" in dropped else params.temperature,
        top_p=None if "top_p" in dropped else params.top_p,
        options=NO_OPTIONS if options == NO_OPTIONS else options,
    )


def screen(model: ModelSpec, params: GenerationParams, *, drop: bool) -> GenerationParams:
    """`params` as `model` can take them: unchanged when it takes them all; else without
    what it cannot take (`drop`), or UnsupportedParameter naming the first such one."""
    names = unsupported(model, params)
    if not names or drop:
        return without(params, names)
    raise UnsupportedParameter(_message(model, names[0]), param=names[0])


def screen_embedding(model: ModelSpec, params: EmbeddingParams, *, drop: bool) -> EmbeddingParams:
    """`screen` for an embedding call: `dimensions` needs a model that takes it."""
    if params.dimensions is None or model.takes("dimensions"):
        return params
    if drop:
        return replace(params, dimensions=None)
    raise UnsupportedParameter(_message(model, "dimensions"), param="dimensions")


def _message(model: ModelSpec, name: str) -> str:
    takes = ", ".join(sorted(model.supported_parameters)) or "none"
    return (
        f"Model {model.name!r} does not support the parameter {name!r} (it takes: {takes}; "
        f"GET /v1/models lists each model's supported_parameters): {DROP_HINT}."
    )


def options_given(options: GenerationOptions) -> bool:
    """Whether any option is asked for."""
    return options != NO_OPTIONS
