"""/media/speech, /media/ocr and /media/quota through the app, with the real local engines
(pocketsphinx, RapidOCR) on the committed fixtures, and every kind of bad input."""

import io
import struct
import wave
from typing import Any

import httpx
import pytest

from simplechat.config import Settings
from tests.factories import app_client, sign_up
from tests.fakes.openai_media import FakeOpenAIMedia
from tests.fakes.upstream import TEST_API_KEY
from tests.media.conftest import FIXTURES
from tests.media.test_pictures import png_header_claiming

PCM = (FIXTURES / "hello.pcm").read_bytes()
ENGLISH = (FIXTURES / "english.png").read_bytes()
CHINESE = (FIXTURES / "chinese.png").read_bytes()
RECEIPT = (FIXTURES / "receipt.jpg").read_bytes()
PNG = {"content-type": "image/png"}
JPEG = {"content-type": "image/jpeg"}
SPEECH, OCR = "/media/speech", "/media/ocr"


def with_settings(base: Settings, **overrides: Any) -> Settings:
    values = base.model_dump()
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def wav(pcm: bytes, rate: int = 16000, frames: int | None = None) -> bytes:
    """A 16-bit mono WAV; `frames`: what its header claims instead of the truth."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    data = buffer.getvalue()
    if frames is not None:  # the data chunk's size sits at bytes 40-43 of a plain header
        data = data[:40] + struct.pack("<I", frames * 2) + data[44:]
    return data


async def used(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[float, int]:
    quota = (await client.get("/media/quota", headers=headers)).json()
    return quota["speech_seconds"]["used"], quota["pictures"]["used"]


class TestSpeech:
    async def test_raw_pcm_as_the_requirement_sends_it(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        response = await client.post(SPEECH, content=PCM, headers=auth_headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["engine"] == "pocketsphinx"
        assert body["text"] == "hello world this is a test"
        assert body["duration_seconds"] == pytest.approx(len(PCM) / 32000, abs=0.01)
        assert await used(client, auth_headers) == (body["duration_seconds"], 0)

    @pytest.mark.parametrize(
        "send",
        [
            {"content": wav(PCM), "headers": {"content-type": "audio/wav"}},
            {"files": {"file": ("hello.wav", wav(PCM), "audio/wav")}},
            {"content": PCM, "headers": {"content-type": "application/x-www-form-urlencoded"}},
        ],
        ids=["wav", "multipart", "curl-data-binary"],
    )
    async def test_other_ways_to_send_it(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str], send: dict[str, Any]
    ) -> None:
        headers = {**auth_headers, **send.pop("headers", {})}
        response = await client.post(SPEECH, headers=headers, **send)
        assert response.status_code == 200, response.text
        assert "hello world" in response.json()["text"]

    async def test_a_22_khz_wav_is_resampled_and_heard(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        callback = (FIXTURES / "callback.wav").read_bytes()
        response = await client.post(SPEECH, content=callback, headers=auth_headers)
        assert response.json()["text"] == "please call me back tomorrow morning"

    async def test_a_language_the_local_engine_does_not_know_is_422_and_free(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        response = await client.post("/media/speech?language=zh", content=PCM, headers=auth_headers)
        assert response.status_code == 422
        assert "only understands" in response.json()["detail"]
        assert await used(client, auth_headers) == (0, 0)


class TestPictures:
    @pytest.mark.parametrize(
        ("picture", "text"),
        [(ENGLISH, "Speech and pictures to text"), (CHINESE, "欢迎使用简单聊天")],
        ids=["english", "chinese"],
    )
    async def test_rapidocr_reads_the_text_exactly(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str], picture: bytes, text: str
    ) -> None:
        response = await client.post(OCR, content=picture, headers={**auth_headers, **PNG})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["text"] == text
        assert body["engine"] == "rapidocr"
        [line] = body["lines"]
        assert line["text"] == text
        assert len(line["box"]) == 4
        assert 0.9 < line["confidence"] <= 1

    async def test_a_receipt_photo_sent_as_multipart(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        files = {"file": ("receipt.jpg", RECEIPT, "image/jpeg")}
        response = await client.post(OCR, files=files, headers=auth_headers)
        assert response.status_code == 200, response.text
        assert [line["text"] for line in response.json()["lines"]] == [
            "CORNER CAFE",
            "Latte 4.50",
            "Bagel 3.25",
            "Orange juice 2.75",
            "TOTAL 10.50",
        ]
        assert await used(client, auth_headers) == (0, 1)


class TestQuotas:
    async def test_the_daily_picture_quota_refuses_clearly(self, settings: Settings) -> None:
        async with app_client(with_settings(settings, daily_pictures=2)) as client:
            headers = {**await sign_up(client, "eric"), **PNG}
            for _ in range(2):
                ok = await client.post(OCR, content=ENGLISH, headers=headers)
                assert ok.status_code == 200
            refused = await client.post(OCR, content=ENGLISH, headers=headers)
            assert refused.status_code == 429
            body = refused.json()
            assert body["code"] == "picture_quota"
            assert body["detail"].startswith("Daily picture quota reached: 2 pictures a day")
            assert (body["limit"], body["used"]) == (2, 2)
            assert int(refused.headers["Retry-After"]) == body["retry_after"] >= 1
            assert refused.headers["x-should-retry"] == "false"
            quota = (await client.get("/media/quota", headers=headers)).json()
            assert quota["pictures"] == {"limit": 2, "used": 2, "remaining": 0}
            other = {**await sign_up(client, "mallory"), **PNG}  # quotas are per user
            assert (await client.post(OCR, content=ENGLISH, headers=other)).status_code == 200

    async def test_the_speech_quota_counts_seconds(self, settings: Settings) -> None:
        async with app_client(with_settings(settings, daily_speech_seconds=3)) as client:
            headers = await sign_up(client, "eric")
            assert (await client.post(SPEECH, content=PCM, headers=headers)).status_code == 200
            refused = await client.post(SPEECH, content=PCM, headers=headers)
            assert refused.status_code == 429
            assert refused.json()["code"] == "speech_quota"
            assert (
                "this recording is 1.9 s and 1.1 s of your 3 s a day remain"
                in refused.json()["detail"]
            )
            short = await client.post(SPEECH, content=PCM[:32000], headers=headers)
            assert short.status_code == 200  # one second still fits

    async def test_a_failed_engine_call_uses_no_quota(
        self, settings: Settings, openai_media: FakeOpenAIMedia
    ) -> None:
        remote = with_settings(
            settings,
            ocr_engine="openai",
            openai_base_url=openai_media.base_url,
            openai_api_key=TEST_API_KEY,
            openai_vision_model="fake-vision",
            upstream_max_retries=0,
        )
        async with app_client(remote) as client:
            headers = await sign_up(client, "eric")
            openai_media.fail_next("status", status=400, message="image too small")
            failed = await client.post(OCR, content=RECEIPT, headers={**headers, **JPEG})
            assert failed.status_code == 502
            assert "image too small" in failed.json()["detail"]
            assert await used(client, headers) == (0, 0)
            ok = await client.post(OCR, content=RECEIPT, headers={**headers, **JPEG})
            assert {k: v for k, v in ok.json().items() if k != "id"} == {
                "text": "CORNER CAFE\nTOTAL 10.50",
                "lines": [
                    {"text": "CORNER CAFE", "box": None, "confidence": None},
                    {"text": "TOTAL 10.50", "box": None, "confidence": None},
                ],
                "engine": "openai/fake-vision",
                "cost": "0.0000",
            }
            assert await used(client, headers) == (0, 1)

    async def test_results_show_in_the_report(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        await client.post(SPEECH, content=PCM, headers=auth_headers)
        await client.post(OCR, content=ENGLISH, headers={**auth_headers, **PNG})
        report = (await client.get("/user/report", headers=auth_headers)).json()
        assert report["media"] == {
            "recordings": 1,
            "speech_seconds": pytest.approx(1.893, abs=0.01),
            "pictures": 1,
        }


ELEVEN_MINUTES_CLAIMED = wav(b"\x00\x00" * 16000, frames=16000 * 660)
TEXT = {"content-type": "text/plain"}
WAV = {"content-type": "audio/wav"}
GIF = {"content-type": "image/gif"}
BAD_INPUTS = [
    (SPEECH, ENGLISH, {}, 415, "not_audio", "This is a PNG picture, not audio"),
    (SPEECH, b"just some text", TEXT, 415, "not_audio", "text/plain is not audio"),
    (SPEECH, PCM[:-1], {}, 422, "corrupt_media", "odd number of bytes"),
    (SPEECH, b"", {}, 422, "corrupt_media", "empty"),
    (SPEECH, wav(PCM)[: len(PCM) // 3], WAV, 422, "corrupt_media", "truncated"),
    (SPEECH, b"fLaC" + b"\x00" * 100, {}, 422, "corrupt_media", "FLAC file cannot be read"),
    (SPEECH, ELEVEN_MINUTES_CLAIMED, {}, 422, "media_too_long", "at most 600 s"),
    (OCR, wav(PCM), WAV, 415, "not_a_picture", "audio/wav is not a picture"),
    (OCR, PCM, {}, 415, "not_a_picture", "This is not a picture"),
    (OCR, RECEIPT[: len(RECEIPT) // 2], JPEG, 422, "corrupt_media", "truncated"),
    (OCR, png_header_claiming(50_000, 50_000), PNG, 422, "too_many_pixels", "megapixels"),
    (OCR, b"GIF89a" + b"\x00" * 20, GIF, 415, "not_a_picture", "unsupported picture format"),
]


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "code", "says"),
    BAD_INPUTS,
    ids=[
        f"{path.rsplit('/', 1)[1]}-{code}-{i}" for i, (path, *_, code, _s) in enumerate(BAD_INPUTS)
    ],
)
async def test_bad_input_is_a_clear_4xx_and_uses_no_quota(
    client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
    says: str,
) -> None:
    response = await client.post(path, content=body, headers={**auth_headers, **headers})
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert says in response.json()["detail"]
    assert await used(client, auth_headers) == (0, 0)


async def test_eleven_real_minutes_are_refused(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    eleven_minutes = b"\x01\x00" * 16000 * 660  # 21 MB: under the size limit, over the length
    response = await client.post(SPEECH, content=eleven_minutes, headers=auth_headers)
    assert response.status_code == 422
    assert response.json()["code"] == "media_too_long"


async def test_uploads_may_be_25_mb_while_json_routes_keep_their_limit(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    too_big = b"\x00" * (25 * 1024 * 1024 + 64 * 1024 + 1)
    for path in (SPEECH, "/media/ocr"):
        response = await client.post(path, content=too_big, headers=auth_headers)
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
    files = {"file": ("big.wav", b"\x00" * (25 * 1024 * 1024 + 2), "application/octet-stream")}
    response = await client.post(SPEECH, files=files, headers=auth_headers)
    assert response.status_code == 413
    assert response.json()["code"] == "media_too_large"
    big_json = {"message": "x" * 1_100_000}
    response = await client.post("/llm/message", json=big_json, headers=auth_headers)
    assert response.status_code == 413


async def test_with_no_engine_the_answer_says_what_to_set(settings: Settings) -> None:
    # (With users' own keys allowed, a named `dashscope` runs on them: tests/media/test_keys.py.)
    nothing = with_settings(settings, speech_engine="dashscope", ocr_engine="openai", byok="off")
    async with app_client(nothing) as client:
        headers = await sign_up(client, "eric")
        speech = await client.post(SPEECH, content=PCM, headers=headers)
        assert speech.status_code == 503
        assert speech.json()["code"] == "engine_unavailable"
        assert "set DASHSCOPE_API_KEY" in speech.json()["detail"]
        ocr = await client.post(OCR, content=ENGLISH, headers={**headers, **PNG})
        assert "SIMPLECHAT_OPENAI_VISION_MODEL" in ocr.json()["detail"]


async def test_media_needs_a_token(client: httpx.AsyncClient) -> None:
    for path in (SPEECH, "/media/ocr"):
        assert (await client.post(path, content=PCM)).status_code == 401
    assert (await client.get("/media/quota")).status_code == 401


async def test_multipart_without_a_file_part_is_422(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    response = await client.post(OCR, files={"picture": ("a.png", ENGLISH)}, headers=auth_headers)
    assert response.status_code == 422
    assert "part named `file`" in response.json()["detail"]
