"""Speech and pictures with users' own provider keys (BYOK) and with personal API keys: the
DashScope SDK and the OpenAI-compatible engines use the caller's key per call, while another
user's call at the same time uses the server's; an `sk-sc-` key's daily cap counts media calls."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from simplechat.config import Settings
from tests.factories import app_client, sign_up
from tests.fakes.dashscope_media import FakeDashScopeMedia
from tests.fakes.openai_media import FakeOpenAIMedia
from tests.fakes.upstream import TEST_API_KEY
from tests.media.conftest import FIXTURES
from tests.media.test_router import with_settings

ADA_KEY = "sk-ada-own-key-1111aaaa"
PCM = (FIXTURES / "hello.pcm").read_bytes()
ENGLISH = (FIXTURES / "english.png").read_bytes()
PNG = {"content-type": "image/png"}
PCM_TYPE = {"content-type": "audio/pcm"}


@pytest.fixture
async def dashscope_media() -> AsyncIterator[FakeDashScopeMedia]:
    async with FakeDashScopeMedia() as fake:
        fake.user_keys.add(ADA_KEY)
        yield fake


def on_dashscope(settings: Settings, fake: FakeDashScopeMedia, **more: object) -> Settings:
    return with_settings(
        settings,
        dashscope_api_key=TEST_API_KEY,
        dashscope_base_url=fake.base_url,
        dashscope_websocket_url=fake.websocket_url,
        upstream_max_retries=0,
        **more,
    )


def on_openai(settings: Settings, fake: FakeOpenAIMedia, **more: object) -> Settings:
    return with_settings(
        settings,
        speech_engine="openai",
        ocr_engine="openai",
        openai_base_url=fake.base_url,
        openai_api_key=TEST_API_KEY,
        openai_speech_model="whisper-1",
        openai_vision_model="fake-vision",
        upstream_max_retries=0,
        **more,
    )


async def both_at_once(
    client: httpx.AsyncClient, ada: dict[str, str], bob: dict[str, str]
) -> list[httpx.Response]:
    """Ada (with her own key) and Bob (without) post a recording and a picture at once."""
    calls = [
        client.post(path, content=body, headers={**who, **kind})
        for who in (ada, bob)
        for path, body, kind in (("/media/speech", PCM, PCM_TYPE), ("/media/ocr", ENGLISH, PNG))
    ]
    responses = await asyncio.gather(*calls)
    assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
    return list(responses)


async def put_key(client: httpx.AsyncClient, headers: dict[str, str], provider: str) -> None:
    stored = await client.put(
        f"/user/provider-keys/{provider}", json={"api_key": ADA_KEY}, headers=headers
    )
    assert stored.status_code == 200, stored.text


class TestOwnProviderKeys:
    async def test_dashscope_sdk_calls_carry_each_users_key(
        self, settings: Settings, dashscope_media: FakeDashScopeMedia
    ) -> None:
        async with app_client(on_dashscope(settings, dashscope_media)) as client:
            ada, bob = await sign_up(client, "ada"), await sign_up(client, "bob")
            await put_key(client, ada, "dashscope")
            await both_at_once(client, ada, bob)
        speech = sorted(h["Authorization"] for h in dashscope_media.handshake_headers)
        pictures = sorted(r.header("Authorization") or "" for r in dashscope_media.requests)
        expected = sorted([f"Bearer {ADA_KEY}", f"Bearer {TEST_API_KEY}"])
        assert speech == expected
        assert pictures == expected

    async def test_openai_compatible_calls_carry_each_users_key(
        self, settings: Settings, openai_media: FakeOpenAIMedia
    ) -> None:
        openai_media.user_keys.add(ADA_KEY)
        async with app_client(on_openai(settings, openai_media)) as client:
            ada, bob = await sign_up(client, "ada"), await sign_up(client, "bob")
            await put_key(client, ada, "openai")
            await both_at_once(client, ada, bob)
        speech = sorted(u["headers"]["Authorization"] for u in openai_media.uploads)
        pictures = sorted(r.header("Authorization") or "" for r in openai_media.requests)
        expected = sorted([f"Bearer {ADA_KEY}", f"Bearer {TEST_API_KEY}"])
        assert speech == expected
        assert pictures == expected

    async def test_a_refused_own_key_is_a_400_and_uses_no_quota(
        self, settings: Settings, dashscope_media: FakeDashScopeMedia
    ) -> None:
        dashscope_media.user_keys.clear()
        async with app_client(on_dashscope(settings, dashscope_media)) as client:
            ada = await sign_up(client, "ada")
            await put_key(client, ada, "dashscope")
            for path, body, kind in (
                ("/media/ocr", ENGLISH, PNG),
                ("/media/speech", PCM, PCM_TYPE),
            ):
                refused = await client.post(path, content=body, headers={**ada, **kind})
                assert refused.status_code == 400, refused.text
                assert refused.json()["code"] == "provider_key_refused"
            quota = (await client.get("/media/quota", headers=ada)).json()
            assert (quota["speech_seconds"]["used"], quota["pictures"]["used"]) == (0, 0)

    async def test_a_server_without_a_dashscope_key_uses_each_users_own(
        self, settings: Settings, dashscope_media: FakeDashScopeMedia
    ) -> None:
        """DashScope named for both engines and no DASHSCOPE_API_KEY: Ada's own key answers,
        Bob (none stored) gets 400 provider_key_required and keeps his quota."""
        keyless = with_settings(
            on_dashscope(settings, dashscope_media, speech_engine="dashscope",
                         ocr_engine="dashscope"),
            dashscope_api_key=None,
        )  # fmt: skip
        async with app_client(keyless) as client:
            ada, bob = await sign_up(client, "ada"), await sign_up(client, "bob")
            await put_key(client, ada, "dashscope")
            for path, body, kind in (
                ("/media/speech", PCM, PCM_TYPE),
                ("/media/ocr", ENGLISH, PNG),
            ):
                ok = await client.post(path, content=body, headers={**ada, **kind})
                assert ok.status_code == 200, ok.text
                refused = await client.post(path, content=body, headers={**bob, **kind})
                assert refused.status_code == 400, refused.text
                assert refused.json()["code"] == "provider_key_required"
                assert "PUT /user/provider-keys/dashscope" in refused.json()["detail"]
            quota = (await client.get("/media/quota", headers=bob)).json()
            assert (quota["speech_seconds"]["used"], quota["pictures"]["used"]) == (0, 0)
        speech = [h["Authorization"] for h in dashscope_media.handshake_headers]
        pictures = [r.header("Authorization") for r in dashscope_media.requests]
        assert speech == pictures == [f"Bearer {ADA_KEY}"]

    async def test_required_refuses_users_without_a_key_and_off_ignores_theirs(
        self, settings: Settings, dashscope_media: FakeDashScopeMedia
    ) -> None:
        required = on_dashscope(settings, dashscope_media, byok="required")
        async with app_client(required) as client:
            ada, bob = await sign_up(client, "ada"), await sign_up(client, "bob")
            await put_key(client, ada, "dashscope")
            ok = await client.post("/media/ocr", content=ENGLISH, headers={**ada, **PNG})
            assert ok.status_code == 200, ok.text
            refused = await client.post("/media/ocr", content=ENGLISH, headers={**bob, **PNG})
            assert refused.status_code == 400
            assert refused.json()["code"] == "provider_key_required"
            quota = (await client.get("/media/quota", headers=bob)).json()
            assert quota["pictures"]["used"] == 0
        async with app_client(with_settings(required, byok="off")) as client:
            ada = {"Authorization": (await _token(client, "ada"))}
            ok = await client.post("/media/ocr", content=ENGLISH, headers={**ada, **PNG})
            assert ok.status_code == 200, ok.text
        keys = [r.header("Authorization") for r in dashscope_media.requests]
        assert keys == [f"Bearer {ADA_KEY}", f"Bearer {TEST_API_KEY}"]


async def _token(client: httpx.AsyncClient, username: str) -> str:
    response = await client.post("/token", data={"username": username, "password": "password123"})
    return f"Bearer {response.json()['access_token']}"


class TestPersonalApiKeys:
    async def test_the_keys_daily_cap_counts_media_calls_and_failures_give_back(
        self, settings: Settings, openai_media: FakeOpenAIMedia
    ) -> None:
        async with app_client(on_openai(settings, openai_media)) as client:
            ada = await sign_up(client, "ada")
            created = await client.post(
                "/user/keys", json={"name": "scanner", "daily_limit": 2}, headers=ada
            )
            assert created.status_code == 201, created.text
            key = {"Authorization": f"Bearer {created.json()['key']}"}
            openai_media.fail_next("status", status=500, message="down")
            failed = await client.post("/media/ocr", content=ENGLISH, headers={**key, **PNG})
            assert failed.status_code == 502
            for path, body, kind in (
                ("/media/ocr", ENGLISH, PNG),
                ("/media/speech", PCM, PCM_TYPE),
            ):
                ok = await client.post(path, content=body, headers={**key, **kind})
                assert ok.status_code == 200, ok.text
            over = await client.post("/media/ocr", content=ENGLISH, headers={**key, **PNG})
            assert over.status_code == 429
            assert over.json()["code"] == "key_daily_limit"
            transcription = await client.post(
                "/v1/audio/transcriptions",
                files={"file": ("a.pcm", PCM, "audio/pcm")},
                data={"model": "whisper-1"},
                headers=key,
            )
            assert transcription.status_code == 429
            assert transcription.json()["error"]["code"] == "key_daily_limit"
            listed = (await client.get("/user/keys", headers=ada)).json()
            assert listed[0]["used_today"] == 2
            quota = (await client.get("/media/quota", headers=ada)).json()
            assert quota["pictures"]["used"] == 1  # refused calls used none of the user's quota

    async def test_an_allow_list_must_name_the_engine(
        self, settings: Settings, openai_media: FakeOpenAIMedia
    ) -> None:
        async with app_client(on_openai(settings, openai_media)) as client:
            ada = await sign_up(client, "ada")
            body = {"name": "chat only", "models": ["mock"]}
            chat_only = (await client.post("/user/keys", json=body, headers=ada)).json()["key"]
            body = {"name": "scanner", "models": ["openai/fake-vision"]}
            scanner = (await client.post("/user/keys", json=body, headers=ada)).json()["key"]
            refused = await client.post(
                "/media/ocr",
                content=ENGLISH,
                headers={"Authorization": f"Bearer {chat_only}", **PNG},
            )
            assert refused.status_code == 403, refused.text
            ok = await client.post(
                "/media/ocr", content=ENGLISH, headers={"Authorization": f"Bearer {scanner}", **PNG}
            )
            assert ok.status_code == 200, ok.text
