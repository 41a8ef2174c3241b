"""The model catalog: the models users can ask for, by public name.

Built-in models are below. A models file (settings `models_file`, SIMPLECHAT_MODELS_FILE) adds
models or changes built-in ones by name. Its format, chosen by the file extension:

JSON (`.json`): a list of objects, or an object with a "models" list::

    [{"name": "llama-local", "provider": "openai", "upstream_id": "llama3.1:8b",
      "context_window": 8192, "max_output_tokens": 1024, "description": "Ollama on this machine"}]

TOML (`.toml`): an array of tables named `models`::

    [[models]]
    name = "qwen-plus"          # a built-in name: only the fields given here change
    context_window = 65536

Fields are those of `ModelSpec`: `name`, `provider` (a vendor's name from `llm.vendors`, or
"mock"), `upstream_id` (the id sent to the provider), `context_window` and `max_output_tokens`
(positive integers, the output no larger than the window), an optional `description`,
`takes_images` (true for a model that reads OpenAI-style image parts; only for vendors whose
adapter sends them, not DashScope, whose text API simplechat calls) and an optional `price` in
credits per 1,000 tokens (`llm.pricing`): simple, `{"input": "0.8", "output": "2"}`, or tiered
by prompt tokens, `{"tiers": [{"from": 0, "to": 32000, "input": "0.8", "output": "2"},
{"from": 32000, "input": "1.6", "output": "4"}]}` (validated: the first tier starts at 0, tiers
touch, only the last is open). A model without a price is free. A new model needs every field
but the description, `takes_images` and the price; an entry for a built-in name needs only the
fields it changes. Unknown fields, wrong types and a missing or unreadable file raise `ValueError`
naming the file and the problem (pydantic's words, with where: `models.2.context_window`).
Models of provider "openai" go to the OpenAI-compatible server at OPENAI_BASE_URL.

The same file prices the speech and picture engines (used when credits are on), by the engine
name responses show (`pocketsphinx`, `rapidocr`, `dashscope/paraformer-realtime-v2`,
`dashscope/qwen-vl-ocr`, `openai/<model>`): a `media` list (TOML: `[[media]]` tables) of
`{"engine": "rapidocr", "per_picture": "0.5"}` or `{"engine": "...", "per_second": "0.01"}`,
in credits (non-negative decimals; each engine once, with one of the two). An engine without
an entry is free. In JSON the file is then an object: `{"models": [...], "media": [...]}`.
"""

import json
import tomllib
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simplechat.llm.pricing import MediaPrice, Price, Tier, tier_problems
from simplechat.llm.types import (
    CHAT_PARAMETERS,
    EMBEDDING_PARAMETERS,
    ModelKind,
    ModelSpec,
)
from simplechat.llm.vendors import CHAT_PARAMETER_DEFAULTS, IMAGE_PROVIDER_NAMES, PROVIDER_NAMES

# What the built-in models take (OpenRouter's `supported_parameters` and DashScope's docs).
_SAMPLING = frozenset({"temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty"})
_TOOLS = frozenset({"tools", "tool_choice", "parallel_tool_calls"})
MISTRAL_7B = _SAMPLING | _TOOLS | {"frequency_penalty", "response_format"}
OPENCHAT_7B = _SAMPLING | {"frequency_penalty", "logit_bias"}
QWEN = _SAMPLING | _TOOLS | {"response_format", "n", "logprobs", "top_logprobs"}
EMBED = ModelKind.EMBEDDING

BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "mistralai/mistral-7b-instruct", "openrouter", "mistralai/mistral-7b-instruct",
        32768, 4096, "Mistral 7B Instruct through OpenRouter (the default).",
        supported_parameters=MISTRAL_7B,
    ),
    ModelSpec(
        "openchat/openchat-7b", "openrouter", "openchat/openchat-7b",
        8192, 1024, "OpenChat 7B through OpenRouter.", supported_parameters=OPENCHAT_7B,
    ),
    ModelSpec(
        "qwen-turbo", "dashscope", "qwen-turbo",
        1_000_000, 16384, "Qwen Turbo through DashScope: fast, very long context.",
        supported_parameters=QWEN | {"reasoning"},
    ),
    ModelSpec(
        "qwen-plus", "dashscope", "qwen-plus",
        131072, 16384, "Qwen Plus through DashScope: balanced.",
        supported_parameters=QWEN | {"reasoning", "structured_outputs"},
    ),
    ModelSpec(
        "qwen-max", "dashscope", "qwen-max",
        32768, 8192, "Qwen Max through DashScope: the strongest Qwen.", supported_parameters=QWEN,
    ),
    ModelSpec(
        "mock", "mock", "mock",
        8192, 1024, "A built-in mock that echoes you; no network, no key.", takes_images=True,
    ),
    ModelSpec(
        "text-embedding-v4", "dashscope", "text-embedding-v4", 8192, 0,
        "Qwen3 text embeddings through DashScope (64 to 2048 dimensions).",
        kind=EMBED, supported_parameters=EMBEDDING_PARAMETERS, dimensions=1024,
    ),
    ModelSpec(
        "text-embedding-v3", "dashscope", "text-embedding-v3", 8192, 0,
        "Text embeddings through DashScope (64 to 1024 dimensions).",
        kind=EMBED, supported_parameters=EMBEDDING_PARAMETERS, dimensions=1024,
    ),
    ModelSpec(
        "openai/text-embedding-3-small", "openrouter", "openai/text-embedding-3-small", 8191, 0,
        "OpenAI's small text embeddings through OpenRouter.",
        kind=EMBED, supported_parameters=EMBEDDING_PARAMETERS, dimensions=1536,
    ),
    ModelSpec(
        "mock-embedding", "mock", "mock-embedding", 8192, 0,
        "A built-in mock that embeds by hashing words; no network, no key.",
        kind=EMBED, supported_parameters=EMBEDDING_PARAMETERS, dimensions=256,
    ),
)  # fmt: skip


class TierEntry(BaseModel):
    """One price tier: prompts of `from` tokens up to (not including) `to`; the last is open."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_tokens: int = Field(alias="from", ge=0)
    to_tokens: int | None = Field(default=None, alias="to", gt=0)
    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)


class PriceEntry(BaseModel):
    """A price in credits per 1,000 tokens: `input` and `output`, or `tiers`."""

    model_config = ConfigDict(extra="forbid")

    input: Decimal | None = Field(default=None, ge=0)
    output: Decimal | None = Field(default=None, ge=0)
    tiers: list[TierEntry] | None = None

    @model_validator(mode="after")
    def _one_valid_mode(self) -> Self:
        if self.tiers is None:
            if self.input is None or self.output is None:
                raise ValueError("give both input and output, or tiers")
            return self
        if self.input is not None or self.output is not None:
            raise ValueError("give either input and output, or tiers, not both")
        if problems := tier_problems(self.to_domain().tiers):
            raise ValueError("; ".join(problems))
        return self

    def to_domain(self) -> Price:
        if self.tiers is None:
            assert self.input is not None
            assert self.output is not None
            return Price.simple(self.input, self.output)
        return Price(tuple(Tier(t.from_tokens, t.to_tokens, t.input, t.output) for t in self.tiers))


class ModelEntry(BaseModel):
    """One entry of the models file: a new model (every field but the description), or the
    fields that change for a built-in one."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1)
    provider: str | None = None
    upstream_id: str | None = None
    context_window: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    description: str | None = None
    takes_images: bool | None = None
    price: PriceEntry | None = None
    kind: ModelKind | None = None
    supported_parameters: list[str] | None = None
    replays_reasoning: bool | None = None
    dimensions: int | None = Field(default=None, gt=0)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> Any:
        return ModelKind(value) if isinstance(value, str) and value in set(ModelKind) else value

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str | None) -> str | None:
        if value is not None and value not in PROVIDER_NAMES:
            known = ", ".join(sorted(PROVIDER_NAMES))
            raise ValueError(f"unknown provider {value!r} (known: {known})")
        return value


class ModelSpecEntry(BaseModel):
    """A whole model, after an entry is merged with the built-in of the same name."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    provider: str
    upstream_id: str
    context_window: int
    max_output_tokens: int | None = None
    description: str = ""
    takes_images: bool = False
    price: PriceEntry | None = None
    kind: ModelKind = ModelKind.CHAT
    supported_parameters: list[str] | None = None  # None: the provider's defaults
    replays_reasoning: bool = False
    dimensions: int | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind is ModelKind.CHAT:
            if self.max_output_tokens is None:
                raise ValueError("a chat model needs max_output_tokens")
            if self.dimensions is not None:
                raise ValueError("dimensions is for embedding models")
        elif self.takes_images or self.replays_reasoning:
            raise ValueError("an embedding model takes neither images nor reasoning")
        if (self.max_output_tokens or 0) > self.context_window:
            raise ValueError("max_output_tokens exceeds context_window")
        if self.takes_images and self.provider not in IMAGE_PROVIDER_NAMES:
            known = ", ".join(sorted(IMAGE_PROVIDER_NAMES))
            raise ValueError(f"takes_images needs one of the providers {known}")
        known_parameters = CHAT_PARAMETERS if self.kind is ModelKind.CHAT else EMBEDDING_PARAMETERS
        if unknown := sorted(set(self.supported_parameters or ()) - known_parameters):
            raise ValueError(
                f"unknown supported_parameters for {self.kind.value} models: "
                f"{', '.join(unknown)} (known: {', '.join(sorted(known_parameters))})"
            )
        return self

    def to_domain(self) -> ModelSpec:
        fields = self.model_dump(exclude={"price", "supported_parameters", "max_output_tokens"})
        return ModelSpec(
            **fields,
            max_output_tokens=self.max_output_tokens or 0,
            price=self.price.to_domain() if self.price else None,
            supported_parameters=self._parameters(),
        )

    def _parameters(self) -> frozenset[str]:
        if self.supported_parameters is not None:
            return frozenset(self.supported_parameters)
        if self.kind is ModelKind.EMBEDDING:
            return EMBEDDING_PARAMETERS
        return CHAT_PARAMETER_DEFAULTS.get(self.provider, CHAT_PARAMETERS)


class MediaPriceEntry(BaseModel):
    """A speech engine's price per second, or a picture engine's per picture, in credits."""

    model_config = ConfigDict(extra="forbid")

    engine: str = Field(min_length=1)
    per_second: Decimal | None = Field(default=None, ge=0)
    per_picture: Decimal | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_price(self) -> Self:
        if (self.per_second is None) == (self.per_picture is None):
            raise ValueError("give either per_second (speech) or per_picture (pictures)")
        return self


class ModelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[ModelEntry] = []
    media: list[MediaPriceEntry] = []

    @model_validator(mode="after")
    def _engines_once(self) -> Self:
        names = [entry.engine for entry in self.media]
        if twice := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"media: each engine once ({', '.join(twice)} more than once)")
        return self


def load_catalog(models_file: Path | None) -> dict[str, ModelSpec]:
    """Built-in models, extended or overridden by `models_file` (None: built-ins only).

    Keeps the built-in order, with new models appended in file order.
    Raises ValueError (naming the file) when the file is missing, unreadable or invalid.
    """
    catalog = {spec.name: spec for spec in BUILTIN_MODELS}
    if models_file is None:
        return catalog
    entries = _models_file(models_file)
    for index, entry in enumerate(entries.models):
        given = {k: v for k, v in entry if v is not None}  # the price stays a PriceEntry
        base = _fields(catalog[entry.name]) if entry.name in catalog else {}
        try:
            spec = ModelSpecEntry.model_validate({**base, **given})
        except ValidationError as exc:
            where = f"models file {models_file}, entry {index + 1} ({entry.name})"
            raise ValueError(f"Invalid {where}: {_problems(exc)}") from None
        catalog[spec.name] = spec.to_domain()
    return catalog


def load_media_prices(models_file: Path | None) -> dict[str, MediaPrice]:
    """The speech and picture engines' prices from `models_file`, by engine name (an engine
    not named is free). Raises ValueError like `load_catalog`."""
    if models_file is None:
        return {}
    return {
        entry.engine: MediaPrice(per_second=entry.per_second, per_picture=entry.per_picture)
        for entry in _models_file(models_file).media
    }


def _models_file(models_file: Path) -> ModelsFile:
    data = _read(models_file)
    try:
        return ModelsFile.model_validate({"models": data} if isinstance(data, list) else data)
    except ValidationError as exc:
        raise ValueError(f"Invalid models file {models_file}: {_problems(exc)}") from None


def _fields(spec: ModelSpec) -> dict[str, Any]:
    """A catalog model as the fields of an entry (its price as a PriceEntry)."""
    fields = asdict(spec)
    fields["supported_parameters"] = sorted(spec.supported_parameters)
    if spec.price is not None:
        tiers = [TierEntry(**asdict(tier)) for tier in spec.price.tiers]
        fields["price"] = PriceEntry(tiers=tiers)
    return fields


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"Cannot read models file {path}: {exc.strerror or exc}") from exc
    try:
        if path.suffix.lower() == ".toml":
            return tomllib.loads(text)
        if path.suffix.lower() == ".json":
            return json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"Models file {path} is not valid {path.suffix[1:]}: {exc}") from exc
    raise ValueError(f"Models file {path} must end in .json or .toml")


def _problems(error: ValidationError) -> str:
    """pydantic's errors as `models.1.context_window: Input should be ...; ...` (entries
    counted from 1, as a person counts them)."""
    described = []
    for problem in error.errors():
        loc = [str(p + 1) if isinstance(p, int) else str(p) for p in problem["loc"]]
        message = str(problem["msg"]).removeprefix("Value error, ")
        described.append(f"{'.'.join(loc) or 'file'}: {message}")
    return "; ".join(described)
