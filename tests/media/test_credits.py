"""Speech and pictures with credits on, through the app: priced from the models file's media
list, held beside the daily quota, charged only for a request that returned text."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from simplechat.config import Settings
from tests.factories import app_client, sign_up
from tests.fakes.openai_media import FakeOpenAIMedia
from tests.fakes.upstream import TEST_API_KEY
from tests.media.conftest import FIXTURES
from tests.media.test_router import with_settings

PCM = (FIXTURES / "hello.pcm").read_bytes()  # 1.89 s
ENGLISH = (FIXTURES / "english.png").read_bytes()
PNG = {"content-type": "image/png"}
PRICES = """
[[media]]
engine = "pocketsphinx"
per_second = "0.01"

[[media]]
engine = "rapidocr"
per_picture = "0.5"

[[media]]
engine = "openai/fake-vision"
per_picture = "0.25"
"""


def priced(settings: Settings, tmp_path: Path, signup: str = "1", **more: Any) -> Settings:
    models = tmp_path / "media-prices.toml"
    models.write_text(PRICES)
    given = {"credits": True, "signup_credits": Decimal(signup), "models_file": models}
    return with_settings(settings, **{**given, **more})


async def credits(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/user/credits", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_speech_per_second_and_pictures_per_picture_until_the_402(
    settings: Settings, tmp_path: Path
) -> None:
    async with app_client(priced(settings, tmp_path)) as client:
        headers = await sign_up(client, "ada")
        speech = await client.post("/media/speech", content=PCM, headers=headers)
        assert speech.status_code == 200, speech.text
        assert speech.json()["cost"] == "0.0189"  # 1.89 s at 0.01 a second
        picture = await client.post("/media/ocr", content=ENGLISH, headers={**headers, **PNG})
        assert picture.status_code == 200, picture.text
        assert picture.json()["cost"] == "0.5000"
        short = await client.post("/media/ocr", content=ENGLISH, headers={**headers, **PNG})
        assert short.status_code == 402, short.text
        assert {
            k: short.json()[k] for k in ("code", "balance", "available", "on_hold", "needed")
        } == {
            "code": "insufficient_credits",
            "balance": "0.4811",
            "available": "0.4811",
            "on_hold": "0.0000",
            "needed": "0.5000",
        }
        assert "this picture may cost up to 0.5000 credits" in short.json()["detail"]
        quota = (await client.get("/media/quota", headers=headers)).json()
        assert quota["pictures"]["used"] == 1  # the refused picture used no quota
        view = await credits(client, headers)
        charges = [e for e in view["ledger"]["items"] if e["kind"] == "charge"]
        assert [(e["delta"], e["reference"], e["note"]) for e in charges] == [
            ("-0.5000", picture.json()["id"], "rapidocr: 1 picture"),
            ("-0.0189", speech.json()["id"], "pocketsphinx: 1.89 s of speech"),
        ]
        usage = (await client.get("/user/usage", headers=headers)).json()
        assert [(m["model"], m["replies"], m["cost"]) for m in usage["by_model"]] == [
            ("pocketsphinx", 1, "0.0189"),
            ("rapidocr", 1, "0.5000"),
        ]


async def test_a_failing_engine_charges_nothing(
    settings: Settings, tmp_path: Path, openai_media: FakeOpenAIMedia
) -> None:
    remote = priced(
        settings,
        tmp_path,
        ocr_engine="openai",
        openai_base_url=openai_media.base_url,
        openai_api_key=TEST_API_KEY,
        openai_vision_model="fake-vision",
        upstream_max_retries=0,
    )
    async with app_client(remote) as client:
        headers = await sign_up(client, "ada")
        openai_media.fail_next("status", status=500, message="the model crashed")
        failed = await client.post("/media/ocr", content=ENGLISH, headers={**headers, **PNG})
        assert failed.status_code == 502, failed.text
        view = await credits(client, headers)
        assert (view["balance"], view["on_hold"]) == ("1.0000", "0.0000")
        assert [e["kind"] for e in view["ledger"]["items"]] == ["signup"]
        usage = (await client.get("/user/usage", headers=headers)).json()
        assert usage["by_model"] == []
        ok = await client.post("/media/ocr", content=ENGLISH, headers={**headers, **PNG})
        assert ok.json()["cost"] == "0.2500"
        assert (await credits(client, headers))["balance"] == "0.7500"


async def test_bad_input_charges_nothing(settings: Settings, tmp_path: Path) -> None:
    async with app_client(priced(settings, tmp_path)) as client:
        headers = await sign_up(client, "ada")
        bad = [
            ("/media/ocr", b"not a picture at all", PNG, 415),
            ("/media/ocr", ENGLISH[: len(ENGLISH) // 2], PNG, 422),  # truncated
            ("/media/ocr", PCM, {"content-type": "audio/pcm"}, 415),
            ("/media/speech", PCM[:-1], {"content-type": "audio/pcm"}, 422),
            ("/media/speech", ENGLISH, PNG, 415),
        ]
        for path, body, content_type, status in bad:
            response = await client.post(path, content=body, headers={**headers, **content_type})
            assert response.status_code == status, (path, response.text)
        view = await credits(client, headers)
        assert (view["balance"], view["on_hold"]) == ("1.0000", "0.0000")
        assert [e["kind"] for e in view["ledger"]["items"]] == ["signup"]


async def test_free_engines_and_credits_off_cost_nothing(settings: Settings) -> None:
    async with app_client(with_settings(settings, credits=True)) as client:
        headers = await sign_up(client, "ada")  # no signup credits, no prices: free
        ok = await client.post("/media/ocr", content=ENGLISH, headers={**headers, **PNG})
        assert ok.status_code == 200, ok.text
        assert ok.json()["cost"] == "0.0000"
        assert (await credits(client, headers))["balance"] == "0.0000"


async def test_an_api_keys_max_credits_caps_media_and_a_failure_spends_none(
    settings: Settings, tmp_path: Path, openai_media: FakeOpenAIMedia
) -> None:
    """Credits off: the key's own cap still counts each picture at its engine's price."""
    remote = priced(
        settings,
        tmp_path,
        credits=False,
        ocr_engine="openai",
        openai_base_url=openai_media.base_url,
        openai_api_key=TEST_API_KEY,
        openai_vision_model="fake-vision",
        upstream_max_retries=0,
    )
    async with app_client(remote) as client:
        ada = await sign_up(client, "ada")
        body = {"name": "scanner", "max_credits": 5000}  # 0.5 credits: two pictures at 0.25
        created = await client.post("/user/keys", json=body, headers=ada)
        assert created.status_code == 201, created.text
        key = {"Authorization": f"Bearer {created.json()['key']}", **PNG}
        openai_media.fail_next("status", status=500, message="the model crashed")
        failed = await client.post("/media/ocr", content=ENGLISH, headers=key)
        assert failed.status_code == 502, failed.text
        for _ in range(2):
            ok = await client.post("/media/ocr", content=ENGLISH, headers=key)
            assert ok.status_code == 200, ok.text
        over = await client.post("/media/ocr", content=ENGLISH, headers=key)
        assert over.status_code == 402, over.text
        assert over.json()["code"] == "key_credit_limit"
        assert "this picture may cost up to 0.2500 credits" in over.json()["detail"]
        listed = (await client.get("/user/keys", headers=ada)).json()
        assert (listed[0]["credits_used"], listed[0]["credits_left"]) == (5000, 0)
        quota = (await client.get("/media/quota", headers=ada)).json()
        assert quota["pictures"]["used"] == 2  # the failed and the refused used none
