"""load_catalog: built-in models, and models files that extend or override them."""

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import pytest

from simplechat.config import Settings
from simplechat.llm.catalog import BUILTIN_MODELS, load_catalog, load_media_prices
from simplechat.llm.dashscope import DASHSCOPE_PARAMETERS
from simplechat.llm.pricing import MediaPrice, Price, Tier
from simplechat.llm.types import CHAT_PARAMETERS, EMBEDDING_PARAMETERS, ModelKind, ModelSpec

LOCAL_MODEL = {
    "name": "llama-local",
    "provider": "openai",
    "upstream_id": "llama3.1:8b",
    "context_window": 8192,
    "max_output_tokens": 1024,
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtins() -> None:
    catalog = load_catalog(None)

    assert list(catalog) == [
        "mistralai/mistral-7b-instruct",
        "openchat/openchat-7b",
        "qwen-turbo",
        "qwen-plus",
        "qwen-max",
        "mock",
        "text-embedding-v4",
        "text-embedding-v3",
        "openai/text-embedding-3-small",
        "mock-embedding",
    ]
    assert catalog["mistralai/mistral-7b-instruct"] == ModelSpec(
        "mistralai/mistral-7b-instruct",
        "openrouter",
        "mistralai/mistral-7b-instruct",
        32768,
        4096,
        catalog["mistralai/mistral-7b-instruct"].description,
        supported_parameters=catalog["mistralai/mistral-7b-instruct"].supported_parameters,
    )
    limits = {n: (m.provider, m.context_window, m.max_output_tokens) for n, m in catalog.items()}
    assert limits["openchat/openchat-7b"] == ("openrouter", 8192, 1024)
    assert limits["qwen-turbo"] == ("dashscope", 1_000_000, 16384)
    assert limits["qwen-plus"] == ("dashscope", 131072, 16384)
    assert limits["qwen-max"] == ("dashscope", 32768, 8192)
    assert limits["mock"] == ("mock", 8192, 1024)
    assert all(m.description for m in BUILTIN_MODELS)


def test_builtin_capabilities() -> None:
    catalog = load_catalog(None)

    assert catalog["mistralai/mistral-7b-instruct"].tools
    assert not catalog["openchat/openchat-7b"].tools
    assert catalog["qwen-plus"].reasoning
    assert catalog["qwen-plus"].structured_outputs
    assert not catalog["qwen-max"].reasoning
    assert catalog["qwen-max"].json_output
    assert catalog["mock"].supported_parameters == CHAT_PARAMETERS  # the mock takes anything
    embedders = [m for m in catalog.values() if m.kind is ModelKind.EMBEDDING]
    assert {m.name: m.dimensions for m in embedders} == {
        "text-embedding-v4": 1024,
        "text-embedding-v3": 1024,
        "openai/text-embedding-3-small": 1536,
        "mock-embedding": 256,
    }
    assert all(m.supported_parameters == {"dimensions"} for m in embedders)
    assert all(m.kind is ModelKind.CHAT for m in catalog.values() if m not in embedders)


def test_supported_parameters_default_to_the_vendors(tmp_path: Path) -> None:
    dashscope = {**LOCAL_MODEL, "name": "qwen3", "provider": "dashscope"}
    narrow = {**LOCAL_MODEL, "name": "tiny", "supported_parameters": ["temperature", "stop"]}
    path = write(tmp_path, "models.json", json.dumps([LOCAL_MODEL, dashscope, narrow]))

    catalog = load_catalog(path)

    assert catalog["llama-local"].supported_parameters == CHAT_PARAMETERS
    assert catalog["qwen3"].supported_parameters == DASHSCOPE_PARAMETERS
    assert "frequency_penalty" not in catalog["qwen3"].supported_parameters
    assert catalog["tiny"].supported_parameters == {"temperature", "stop"}
    assert not catalog["tiny"].tools


def test_an_override_keeps_the_builtin_capabilities(tmp_path: Path) -> None:
    path = write(tmp_path, "models.json", json.dumps([{"name": "qwen-max", "description": "x"}]))

    assert load_catalog(path)["qwen-max"] == dataclasses.replace(
        load_catalog(None)["qwen-max"], description="x"
    )


def test_embedding_models_from_a_file(tmp_path: Path) -> None:
    text = """
[[models]]
name = "nomic"
kind = "embedding"
provider = "openai"
upstream_id = "nomic-embed-text"
context_window = 2048
dimensions = 768
price = {input = "0.01", output = "0"}

[[models]]
name = "deepseek-reasoner"
provider = "openai"
upstream_id = "deepseek-reasoner"
context_window = 65536
max_output_tokens = 8192
supported_parameters = ["max_tokens", "tools", "reasoning"]
replays_reasoning = true
"""
    catalog = load_catalog(write(tmp_path, "models.toml", text))

    nomic = catalog["nomic"]
    assert (nomic.kind, nomic.dimensions, nomic.max_output_tokens) == (
        ModelKind.EMBEDDING,
        768,
        0,
    )
    assert nomic.supported_parameters == EMBEDDING_PARAMETERS
    assert nomic.price == Price.simple(Decimal("0.01"), Decimal("0"))
    assert catalog["deepseek-reasoner"].replays_reasoning
    assert catalog["deepseek-reasoner"].reasoning


def test_default_model_is_built_in() -> None:
    assert Settings.model_fields["default_model"].default in load_catalog(None)


def test_json_file_adds_and_overrides(tmp_path: Path) -> None:
    override = {"name": "qwen-plus", "context_window": 65536}
    path = write(tmp_path, "models.json", json.dumps([LOCAL_MODEL, override]))

    catalog = load_catalog(path)

    assert catalog["llama-local"] == ModelSpec(**LOCAL_MODEL)  # type: ignore[arg-type]
    assert catalog["qwen-plus"].context_window == 65536
    assert catalog["qwen-plus"].upstream_id == "qwen-plus"  # the rest stays built-in
    assert list(catalog)[-1] == "llama-local"


def test_json_object_with_models_list(tmp_path: Path) -> None:
    path = write(tmp_path, "models.json", json.dumps({"models": [LOCAL_MODEL]}))

    assert "llama-local" in load_catalog(path)


def test_toml_file(tmp_path: Path) -> None:
    text = """
[[models]]
name = "llama-local"
provider = "openai"
upstream_id = "llama3.1:8b"
context_window = 8192
max_output_tokens = 1024
description = "Ollama here"

[[models]]
name = "mock"
max_output_tokens = 64
"""
    catalog = load_catalog(write(tmp_path, "models.toml", text))

    assert catalog["llama-local"].description == "Ollama here"
    assert catalog["mock"].max_output_tokens == 64


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("models.json", "[{", "is not valid json"),
        ("models.toml", "[[models]\n", "is not valid toml"),
        ("models.yaml", "[]", "must end in .json or .toml"),
        ("models.json", '{"model": []}', "model: Extra inputs are not permitted"),
        ("models.json", '["qwen"]', "models.1: Input should be a valid dictionary"),
        ("models.json", '[{"name": ""}]', "models.1.name: String should have at least 1"),
        (
            "models.json",
            '[{"name": "x", "provider": "openai"}]',
            "1 (x): upstream_id: Field required",
        ),
        (
            "models.json",
            '[{"name": "mock", "tokens": 5}]',
            "models.1.tokens: Extra inputs",
        ),
        (
            "models.json",
            '[{"name": "mock", "context_window": "8k"}]',
            "1.context_window: Input should be a valid int",
        ),
        (
            "models.json",
            '[{"name": "mock", "context_window": true}]',
            "1.context_window: Input should be a valid int",
        ),
        ("models.json", '[{"name": "mock", "provider": "acme"}]', "unknown provider 'acme'"),
        (
            "models.json",
            '[{"name": "mock", "context_window": 0}]',
            "1.context_window: Input should be greater",
        ),
        ("models.json", '[{"name": "mock", "max_output_tokens": 9000}]', "exceeds context_window"),
        ("models.json", '[{"name": "mock", "takes_images": "yes"}]', "images: Input should be a"),
        ("models.json", '[{"name": "qwen-plus", "takes_images": true}]', "takes_images needs"),
        (
            "models.json",
            '[{"name": "mock", "supported_parameters": ["tools", "teleport"]}]',
            "unknown supported_parameters for chat models: teleport",
        ),
        (
            "models.json",
            '[{"name": "mock-embedding", "supported_parameters": ["tools"]}]',
            "unknown supported_parameters for embedding models: tools",
        ),
        ("models.json", '[{"name": "mock", "kind": "vector"}]', "1.kind: Input should be"),
        ("models.json", '[{"name": "mock", "dimensions": 8}]', "dimensions is for embedding"),
        (
            "models.json",
            '[{"name": "x", "provider": "openai", "upstream_id": "x", "context_window": 9}]',
            "a chat model needs max_output_tokens",
        ),
    ],
)
def test_invalid_files_name_the_file_and_the_problem(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ValueError, match="models") as caught:
        load_catalog(path)

    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(ValueError, match="Cannot read models file") as caught:
        load_catalog(path)

    assert str(path) in str(caught.value)


def test_takes_images_is_a_flag_off_by_default(tmp_path: Path) -> None:
    vision = {**LOCAL_MODEL, "name": "llava-local", "takes_images": True}
    path = write(tmp_path, "models.json", json.dumps([LOCAL_MODEL, vision]))

    catalog = load_catalog(path)

    assert catalog["llama-local"].takes_images is False
    assert catalog["llava-local"].takes_images is True
    assert catalog["mock"].takes_images is True  # so images can be tried with no key
    assert not any(m.takes_images for m in BUILTIN_MODELS if m.name != "mock")


def test_prices_simple_and_tiered(tmp_path: Path) -> None:
    text = """
[[models]]
name = "qwen-plus"
price = { input = "0.8", output = 2 }

[[models]]
name = "qwen-max"
[models.price]
tiers = [
  { from = 0, to = 32000, input = "2.4", output = 9.6 },
  { from = 32000, input = "4.8", output = "19.2" },
]

[[models]]
name = "qwen-max"
context_window = 16384   # a later entry for the same model keeps its price
"""
    catalog = load_catalog(write(tmp_path, "models.toml", text))

    assert catalog["qwen-plus"].price == Price.simple(Decimal("0.8"), Decimal(2))
    assert catalog["qwen-max"].price == Price(
        (
            Tier(0, 32000, Decimal("2.4"), Decimal("9.6")),  # a TOML float, read exactly
            Tier(32000, None, Decimal("4.8"), Decimal("19.2")),
        )
    )
    assert catalog["qwen-max"].context_window == 16384
    assert catalog["qwen-turbo"].price is None  # no price: free


def test_json_price(tmp_path: Path) -> None:
    entry = {**LOCAL_MODEL, "price": {"input": 0.15, "output": "0.6"}}
    catalog = load_catalog(write(tmp_path, "models.json", json.dumps([entry])))

    assert catalog["llama-local"].price == Price.simple(Decimal("0.15"), Decimal("0.6"))


@pytest.mark.parametrize(
    ("price", "problem"),
    [
        ({"input": 1}, "give both input and output, or tiers"),
        (
            {"input": 1, "output": 1, "tiers": [{"from": 0, "input": 1, "output": 1}]},
            "give either input and output, or tiers, not both",
        ),
        ({"input": -1, "output": 1}, "price.input: Input should be greater than or equal to 0"),
        ({"input": "cheap", "output": 1}, "price.input: Input should be a valid decimal"),
        ({"tiers": []}, "a tiered price needs at least one tier"),
        (
            {"tiers": [{"from": 1, "input": 1, "output": 1}]},
            "the first tier must start at 0, not 1",
        ),
        (
            {
                "tiers": [
                    {"from": 0, "to": 100, "input": 1, "output": 1},
                    {"from": 101, "input": 2, "output": 2},
                ]
            },
            "tier 2 must start at 100, where tier 1 ends (a gap otherwise)",
        ),
        (
            {
                "tiers": [
                    {"from": 0, "input": 1, "output": 1},
                    {"from": 100, "input": 2, "output": 2},
                ]
            },
            "tier 1: only the last tier may be open",
        ),
        ({"tiers": [{"from": 0, "upto": 5, "input": 1, "output": 1}]}, "upto: Extra inputs"),
    ],
)
def test_invalid_prices_are_refused_when_the_catalog_loads(
    tmp_path: Path, price: dict[str, object], problem: str
) -> None:
    path = write(tmp_path, "models.json", json.dumps([{"name": "qwen-plus", "price": price}]))
    with pytest.raises(ValueError, match="Invalid models file") as caught:
        load_catalog(path)

    assert problem in str(caught.value)


def test_media_prices_from_toml_and_json(tmp_path: Path) -> None:
    toml = write(
        tmp_path,
        "models.toml",
        """
[[media]]
engine = "rapidocr"
per_picture = "0.5"

[[media]]
engine = "dashscope/paraformer-realtime-v2"
per_second = "0.0125"
""",
    )
    assert load_media_prices(toml) == {
        "rapidocr": MediaPrice(per_picture=Decimal("0.5")),
        "dashscope/paraformer-realtime-v2": MediaPrice(per_second=Decimal("0.0125")),
    }
    assert load_catalog(toml)["mock"].name == "mock"  # a file of media prices only is valid
    both = {"models": [LOCAL_MODEL], "media": [{"engine": "pocketsphinx", "per_second": 0}]}
    path = write(tmp_path, "models.json", json.dumps(both))
    assert load_media_prices(path) == {"pocketsphinx": MediaPrice(per_second=Decimal(0))}
    assert "llama-local" in load_catalog(path)
    assert load_media_prices(None) == {}
    assert load_media_prices(write(tmp_path, "list.json", json.dumps([LOCAL_MODEL]))) == {}


@pytest.mark.parametrize(
    ("media", "problem"),
    [
        ([{"engine": "rapidocr"}], "give either per_second (speech) or per_picture"),
        (
            [{"engine": "rapidocr", "per_picture": "1", "per_second": "1"}],
            "give either per_second (speech) or per_picture",
        ),
        ([{"engine": "rapidocr", "per_picture": "-1"}], "media.1.per_picture: Input should be"),
        ([{"engine": "rapidocr", "per_picture": "lots"}], "media.1.per_picture: Input should be"),
        ([{"engine": "", "per_picture": "1"}], "media.1.engine: String should have at least"),
        ([{"engine": "rapidocr", "per_call": "1"}], "media.1.per_call: Extra inputs"),
        (
            [
                {"engine": "rapidocr", "per_picture": "1"},
                {"engine": "rapidocr", "per_picture": "2"},
            ],
            "each engine once (rapidocr more than once)",
        ),
    ],
)
def test_invalid_media_prices_fail_the_catalog_too(
    tmp_path: Path, media: list[dict[str, str]], problem: str
) -> None:
    path = write(tmp_path, "models.json", json.dumps({"media": media}))
    for load in (load_catalog, load_media_prices):
        with pytest.raises(ValueError, match="Invalid models file") as caught:
            load(path)
        assert problem in str(caught.value)
