"""GET /llm/models shows each model's price as the models file gives it (what a model picker
shows beside the context window); a model without one is free (null)."""

from pathlib import Path

from tests.factories import app_client, make_settings, sign_up

MODELS = """
[[models]]
name = "qwen-plus"
price = { input = "0.8", output = "2" }

[[models]]
name = "qwen-max"
[models.price]
tiers = [
  { from = 0, to = 32000, input = "2.4", output = "9.6" },
  { from = 32000, input = "4.8", output = "19.2" },
]
"""


async def test_prices_are_listed_simple_tiered_or_free(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    models_file = tmp_path / "models.toml"
    models_file.write_text(MODELS, encoding="utf-8")
    settings = make_settings(mongo_uri, database_name, tmp_path, models_file=models_file)
    async with app_client(settings) as client:
        headers = await sign_up(client, "eric")
        response = await client.get("/llm/models", headers=headers)
    assert response.status_code == 200
    by_name = {m["name"]: m for m in response.json()}
    assert by_name["qwen-plus"]["price"] == {
        "input": "0.8",
        "output": "2",
        "tiers": [{"from": 0, "to": None, "input": "0.8", "output": "2"}],
    }
    tiered = by_name["qwen-max"]["price"]
    assert (tiered["input"], tiered["output"]) == ("2.4", "9.6")
    assert [(t["from"], t["to"]) for t in tiered["tiers"]] == [(0, 32000), (32000, None)]
    assert by_name["mock"]["price"] is None
