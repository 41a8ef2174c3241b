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

Fields are those of `ModelSpec`: `name`, `provider` (one of PROVIDERS), `upstream_id` (the id
sent to the provider), `context_window` and `max_output_tokens` (positive integers, the output no
larger than the window), an optional `description` and `takes_images` (true for a model that
reads OpenAI-style image parts; not for DashScope, whose text API simplechat calls). A new model
needs every field but the description and `takes_images`; an entry for a built-in name needs
only the fields it changes. Unknown fields,
wrong types and a missing or unreadable file raise `ValueError` naming the file and the problem.
Models of provider "openai" go to the OpenAI-compatible server at OPENAI_BASE_URL.
"""

import json
import tomllib
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from simplechat.llm.types import ModelSpec

PROVIDERS = frozenset({"openrouter", "dashscope", "openai", "mock"})
REQUIRED_FIELDS = ("name", "provider", "upstream_id", "context_window", "max_output_tokens")
FIELD_TYPES: dict[str, type] = {f.name: str for f in fields(ModelSpec)} | {
    "context_window": int,
    "max_output_tokens": int,
    "takes_images": bool,
}
# Providers whose adapters send image parts (OpenAI's content-part format).
IMAGE_PROVIDERS = frozenset({"openrouter", "openai", "mock"})

BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "mistralai/mistral-7b-instruct", "openrouter", "mistralai/mistral-7b-instruct",
        32768, 4096, "Mistral 7B Instruct through OpenRouter (the default).",
    ),
    ModelSpec(
        "openchat/openchat-7b", "openrouter", "openchat/openchat-7b",
        8192, 1024, "OpenChat 7B through OpenRouter.",
    ),
    ModelSpec(
        "qwen-turbo", "dashscope", "qwen-turbo",
        1_000_000, 16384, "Qwen Turbo through DashScope: fast, very long context.",
    ),
    ModelSpec(
        "qwen-plus", "dashscope", "qwen-plus",
        131072, 16384, "Qwen Plus through DashScope: balanced.",
    ),
    ModelSpec(
        "qwen-max", "dashscope", "qwen-max",
        32768, 8192, "Qwen Max through DashScope: the strongest Qwen.",
    ),
    ModelSpec(
        "mock", "mock", "mock",
        8192, 1024, "A built-in mock that echoes you; no network, no key.", takes_images=True,
    ),
)  # fmt: skip


def load_catalog(models_file: Path | None) -> dict[str, ModelSpec]:
    """Built-in models, extended or overridden by `models_file` (None: built-ins only).

    Keeps the built-in order, with new models appended in file order.
    Raises ValueError (naming the file) when the file is missing, unreadable or invalid.
    """
    catalog = {spec.name: spec for spec in BUILTIN_MODELS}
    if models_file is None:
        return catalog
    for index, entry in enumerate(_read_entries(models_file)):
        where = f"models file {models_file}, entry {index + 1}"
        spec = _to_spec(entry, catalog, where)
        catalog[spec.name] = spec
    return catalog


def _read_entries(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"Cannot read models file {path}: {exc.strerror or exc}") from exc
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise ValueError(f"Models file {path} must end in .json or .toml")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"Models file {path} is not valid {path.suffix[1:]}: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("models")
    if not isinstance(data, list):
        raise ValueError(f'Models file {path} must hold a list of models (or a "models" list)')
    return data


def _to_spec(entry: Any, catalog: dict[str, ModelSpec], where: str) -> ModelSpec:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected an object with model fields, got {entry!r}")
    unknown = sorted(set(entry) - set(FIELD_TYPES))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: 'name' must be a non-empty string")
    base = asdict(catalog[name]) if name in catalog else {}
    merged = {**base, **entry}
    missing = [f for f in REQUIRED_FIELDS if f not in merged]
    if missing:
        raise ValueError(f"{where} ({name}): missing field(s) {', '.join(missing)}")
    for key, value in merged.items():
        expected = FIELD_TYPES[key]
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise ValueError(
                f"{where} ({name}): '{key}' must be {expected.__name__}, got {value!r}"
            )
    _check_values(merged, f"{where} ({name})")
    return ModelSpec(**merged)


def _check_values(spec: dict[str, Any], where: str) -> None:
    if spec["provider"] not in PROVIDERS:
        known = ", ".join(sorted(PROVIDERS))
        raise ValueError(f"{where}: unknown provider {spec['provider']!r} (known: {known})")
    if spec["context_window"] <= 0 or spec["max_output_tokens"] <= 0:
        raise ValueError(f"{where}: context_window and max_output_tokens must be positive")
    if spec["max_output_tokens"] > spec["context_window"]:
        raise ValueError(f"{where}: max_output_tokens exceeds context_window")
    if spec.get("takes_images") and spec["provider"] not in IMAGE_PROVIDERS:
        known = ", ".join(sorted(IMAGE_PROVIDERS))
        raise ValueError(f"{where}: takes_images needs one of the providers {known}")
