"""/v1/audio/transcriptions driven by the official `openai` package, unchanged, against
simplechat with the local speech engine."""

import io

import httpx
import openai
import pytest

from simplechat.config import Settings
from tests.factories import app_client, sign_up
from tests.media.conftest import FIXTURES
from tests.media.test_router import wav, with_settings

PCM = (FIXTURES / "hello.pcm").read_bytes()
WAV = wav(PCM)


async def sdk(
    http: httpx.AsyncClient, username: str = "eric", retries: int = 0
) -> openai.AsyncOpenAI:
    headers = await sign_up(http, username)
    token = headers["Authorization"].removeprefix("Bearer ")
    return openai.AsyncOpenAI(
        base_url="http://testserver/v1", api_key=token, http_client=http, max_retries=retries
    )


async def test_transcriptions_create_as_clients_call_it(client: httpx.AsyncClient) -> None:
    api = await sdk(client)
    transcription = await api.audio.transcriptions.create(
        model="whisper-1", file=("hello.wav", io.BytesIO(WAV))
    )
    assert "hello world" in transcription.text


@pytest.mark.parametrize("response_format", ["text", "srt", "vtt"])
async def test_text_formats(client: httpx.AsyncClient, response_format: str) -> None:
    api = await sdk(client)
    text = await api.audio.transcriptions.create(
        model="whisper-1",
        file=("hello.pcm", PCM),
        response_format=response_format,  # type: ignore[call-overload]
    )
    assert isinstance(text, str)
    assert "hello world" in text
    if response_format == "srt":
        assert text.startswith("1\n00:00:00,")
    if response_format == "vtt":
        assert text.startswith("WEBVTT\n\n00:00:00.")


async def test_verbose_json_has_segments_and_duration(client: httpx.AsyncClient) -> None:
    api = await sdk(client)
    verbose = await api.audio.transcriptions.create(
        model="whisper-1", file=("hello.wav", WAV), response_format="verbose_json", language="en"
    )
    assert verbose.duration == pytest.approx(1.893, abs=0.01)
    assert verbose.language == "en"
    assert verbose.segments is not None
    assert "hello world" in verbose.segments[0].text
    assert 0 <= verbose.segments[0].start < verbose.segments[0].end <= verbose.duration


async def test_errors_come_in_openais_shape(client: httpx.AsyncClient) -> None:
    api = await sdk(client)
    with pytest.raises(openai.BadRequestError) as unknown:
        await api.audio.transcriptions.create(model="gpt-5-audio", file=("a.wav", WAV))
    assert unknown.value.code == "model_not_found"
    assert "use whisper-1" in unknown.value.message
    with pytest.raises(openai.APIStatusError) as not_audio:
        await api.audio.transcriptions.create(
            model="whisper-1", file=("p.png", (FIXTURES / "english.png").read_bytes(), "image/png")
        )
    assert not_audio.value.status_code == 415
    body = not_audio.value.body
    assert isinstance(body, dict)
    assert body["code"] == "not_audio"  # the SDK unwraps "error"
    bad = await client.post(
        "/v1/audio/transcriptions",
        data={"model": "whisper-1"},
        headers={"Authorization": f"Bearer {api.api_key}"},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["type"] == "invalid_request_error"


async def test_the_quota_refusal_is_not_retried_by_the_sdk(settings: Settings) -> None:
    async with app_client(with_settings(settings, daily_speech_seconds=2)) as client:
        api = await sdk(client, retries=2)
        await api.audio.transcriptions.create(model="whisper-1", file=("a.wav", WAV))
        with pytest.raises(openai.RateLimitError) as refused:
            await api.audio.transcriptions.create(model="whisper-1", file=("a.wav", WAV))
        assert refused.value.code == "speech_quota"
        assert refused.value.response.headers["x-should-retry"] == "false"
        quota = (
            await client.get("/media/quota", headers={"Authorization": f"Bearer {api.api_key}"})
        ).json()
        assert quota["speech_seconds"]["used"] == pytest.approx(1.893, abs=0.01)
