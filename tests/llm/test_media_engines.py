"""The speech and picture engines against fakes on 127.0.0.1 that speak the real wire formats:
DashScope through its real SDK (Recognition over WebSocket, MultiModalConversation over HTTP),
and any OpenAI-compatible server (transcriptions, vision chat completions)."""

import io
import json
import wave
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from simplechat.config import Settings
from simplechat.kit.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from simplechat.llm.media_engines import (
    MediaEngines,
    Unavailable,
    build_media_engines,
    check_prices,
    dashscope_websocket_url,
)
from simplechat.llm.ocr.base import OcrLine, Picture, from_text
from simplechat.llm.ocr.dashscope import DashScopeOcr
from simplechat.llm.ocr.openai_compat import OpenAIVisionOcr
from simplechat.llm.ocr.rapidocr import reading_order
from simplechat.llm.pricing import MediaPrice
from simplechat.llm.retry import RetryPolicy
from simplechat.llm.speech.base import PcmAudio
from simplechat.llm.speech.dashscope import DashScopeSpeech, join_sentences
from simplechat.llm.speech.openai_compat import OpenAISpeech
from tests.factories import free_port
from tests.fakes.dashscope_media import FakeDashScopeMedia
from tests.fakes.openai_media import FakeOpenAIMedia
from tests.fakes.upstream import TEST_API_KEY

FIXTURES = Path(__file__).resolve().parent.parent / "media" / "fixtures"
AUDIO = PcmAudio((FIXTURES / "hello.pcm").read_bytes())
RECEIPT = (FIXTURES / "receipt.jpg").read_bytes()
PICTURE = Picture(RECEIPT, "image/jpeg", 400, 300)
FAST_RETRY = RetryPolicy(max_retries=1, backoff_seconds=0.01, max_retry_after_seconds=1.0)


@pytest.fixture
async def dashscope() -> AsyncIterator[FakeDashScopeMedia]:
    async with FakeDashScopeMedia() as fake:
        yield fake


@pytest.fixture
async def openai_fake() -> AsyncIterator[FakeOpenAIMedia]:
    async with FakeOpenAIMedia() as fake:
        yield fake


def dashscope_speech(url: str, api_key: str = TEST_API_KEY) -> DashScopeSpeech:
    return DashScopeSpeech(
        api_key=api_key,
        websocket_url=url,
        model="paraformer-realtime-v2",
        timeout_seconds=5,
        retry=FAST_RETRY,
    )


class TestDashScopeSpeech:
    async def test_the_sdk_streams_the_pcm_and_collects_the_final_sentences(
        self, dashscope: FakeDashScopeMedia
    ) -> None:
        transcript = await dashscope_speech(dashscope.websocket_url).transcribe(
            AUDIO, language="en"
        )
        assert transcript.text == "Hello world. This is a test."
        assert [s.text for s in transcript.segments] == ["Hello world.", "This is a test."]
        assert transcript.segments[0].start == 0.0
        assert transcript.segments[-1].end == pytest.approx(AUDIO.duration_ms / 1000, abs=0.01)
        assert dashscope.audio == AUDIO.pcm  # every byte, in order
        [task] = dashscope.tasks
        assert task["header"]["action"] == "run-task"
        payload = task["payload"]
        assert payload["model"] == "paraformer-realtime-v2"
        assert payload["parameters"]["format"] == "pcm"
        assert payload["parameters"]["sample_rate"] == 16000
        assert payload["parameters"]["language_hints"] == ["en"]
        assert (payload["task_group"], payload["task"], payload["function"]) == (
            "audio",
            "asr",
            "recognition",
        )
        assert dashscope.handshake_headers[0]["Authorization"] == f"Bearer {TEST_API_KEY}"

    async def test_a_refused_key_is_the_servers_key_refused(
        self, dashscope: FakeDashScopeMedia
    ) -> None:
        with pytest.raises(UpstreamRejected, match="API key was refused"):
            await dashscope_speech(dashscope.websocket_url, api_key="wrong").transcribe(AUDIO)

    async def test_a_failed_task_is_the_providers_refusal(
        self, dashscope: FakeDashScopeMedia
    ) -> None:
        dashscope.fail_next("task_failed", code="InvalidParameter", message="bad sample rate")
        with pytest.raises(UpstreamRejected, match="bad sample rate"):
            await dashscope_speech(dashscope.websocket_url).transcribe(AUDIO)

    async def test_throttling_is_retried_then_unavailable(
        self, dashscope: FakeDashScopeMedia
    ) -> None:
        dashscope.fail_next("task_failed", times=2, code="Throttling.RateQuota", message="slow")
        with pytest.raises(UpstreamUnavailable):
            await dashscope_speech(dashscope.websocket_url).transcribe(AUDIO)
        assert len(dashscope.tasks) == 2

    async def test_nobody_listening_is_unavailable(self) -> None:
        url = f"ws://127.0.0.1:{free_port()}/api-ws/v1/inference"
        with pytest.raises(UpstreamUnavailable, match="Could not reach DashScope"):
            await dashscope_speech(url).transcribe(AUDIO)

    def test_sentences_join_with_spaces_except_after_chinese(self) -> None:
        assert join_sentences(["Hello.", "Bye."]) == "Hello. Bye."
        assert join_sentences(["你好。", "再见。"]) == "你好。再见。"
        assert join_sentences([]) == ""


class TestDashScopeOcr:
    def engine(self, session: aiohttp.ClientSession, base_url: str) -> DashScopeOcr:
        return DashScopeOcr(
            session,
            api_key=TEST_API_KEY,
            base_url=base_url,
            model="qwen-vl-ocr",
            timeout_seconds=5,
            retry=FAST_RETRY,
        )

    async def test_the_picture_goes_as_a_data_url_and_the_text_comes_back_by_line(
        self, dashscope: FakeDashScopeMedia, http_session: aiohttp.ClientSession
    ) -> None:
        found = await self.engine(http_session, dashscope.base_url).read(PICTURE)
        assert found.text == "CORNER CAFE\nTOTAL 10.50"
        assert [line.text for line in found.lines] == ["CORNER CAFE", "TOTAL 10.50"]
        assert found.lines[0].box is None
        [request] = dashscope.requests
        assert request.path == "/api/v1/services/aigc/multimodal-generation/generation"
        assert request.header("Authorization") == f"Bearer {TEST_API_KEY}"
        assert request.header("X-DashScope-OssResourceResolve") is None  # nothing uploaded
        assert request.json["model"] == "qwen-vl-ocr"
        image, instruction = request.json["input"]["messages"][0]["content"]
        assert image["image"] == PICTURE.data_url()
        assert "text" in instruction["text"]

    async def test_errors_are_mapped(
        self, dashscope: FakeDashScopeMedia, http_session: aiohttp.ClientSession
    ) -> None:
        dashscope.fail_next("status", status=400, code="InvalidParameter", message="too small")
        with pytest.raises(UpstreamRejected, match="too small"):
            await self.engine(http_session, dashscope.base_url).read(PICTURE)
        dashscope.fail_next("status", times=2, status=500)
        with pytest.raises(UpstreamError, match="failed to answer"):  # 500, after the retry
            await self.engine(http_session, dashscope.base_url).read(PICTURE)


class TestOpenAICompatible:
    async def test_speech_is_posted_as_a_wav_file(
        self, openai_fake: FakeOpenAIMedia, http_session: aiohttp.ClientSession
    ) -> None:
        engine = OpenAISpeech(
            http_session,
            base_url=openai_fake.base_url,
            api_key=TEST_API_KEY,
            model="whisper-large-v3",
            retry=FAST_RETRY,
        )
        transcript = await engine.transcribe(AUDIO, language="en", prompt="greetings")
        assert transcript.text == "hello from the fake whisper"
        assert engine.name == "openai/whisper-large-v3"
        [upload] = openai_fake.uploads
        assert upload["model"] == "whisper-large-v3"
        assert upload["response_format"] == "json"
        assert (upload["language"], upload["prompt"]) == ("en", "greetings")
        assert upload["file"]["filename"] == "audio.wav"
        with wave.open(io.BytesIO(upload["file"]["data"])) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
            assert wav.readframes(wav.getnframes()) == AUDIO.pcm

    async def test_speech_retries_a_5xx_then_answers(
        self, openai_fake: FakeOpenAIMedia, http_session: aiohttp.ClientSession
    ) -> None:
        openai_fake.fail_next("status", status=503)
        engine = OpenAISpeech(
            http_session,
            base_url=openai_fake.base_url,
            api_key=TEST_API_KEY,
            model="whisper-1",
            retry=FAST_RETRY,
        )
        assert (await engine.transcribe(AUDIO)).text == "hello from the fake whisper"
        assert len(openai_fake.uploads) == 2  # the form was built afresh for the retry

    async def test_a_wrong_key_is_refused(
        self, openai_fake: FakeOpenAIMedia, http_session: aiohttp.ClientSession
    ) -> None:
        engine = OpenAISpeech(
            http_session,
            base_url=openai_fake.base_url,
            api_key="wrong",
            model="whisper-1",
            retry=FAST_RETRY,
        )
        with pytest.raises(UpstreamRejected, match="API key was refused"):
            await engine.transcribe(AUDIO)

    async def test_vision_ocr_sends_the_picture_as_an_image_url_part(
        self, openai_fake: FakeOpenAIMedia, http_session: aiohttp.ClientSession
    ) -> None:
        engine = OpenAIVisionOcr(
            http_session,
            base_url=openai_fake.base_url,
            api_key=TEST_API_KEY,
            model="qwen2.5-vl",
            retry=FAST_RETRY,
        )
        found = await engine.read(PICTURE)
        assert [line.text for line in found.lines] == ["CORNER CAFE", "TOTAL 10.50"]
        [request] = openai_fake.requests
        assert request.path == "/v1/chat/completions"
        assert request.json["model"] == "qwen2.5-vl"
        instruction, image = request.json["messages"][0]["content"]
        assert instruction["type"] == "text"
        assert image == {"type": "image_url", "image_url": {"url": PICTURE.data_url()}}

    async def test_vision_answer_that_is_not_json_is_a_bad_response(
        self, http_session: aiohttp.ClientSession
    ) -> None:
        from aiohttp import web

        async def broken(request: web.Request) -> web.Response:
            return web.Response(text="<html>oops</html>")

        app = web.Application()
        app.router.add_post("/v1/chat/completions", broken)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            engine = OpenAIVisionOcr(
                http_session,
                base_url=f"http://127.0.0.1:{port}/v1",
                api_key=None,
                model="m",
                retry=FAST_RETRY,
            )
            with pytest.raises(UpstreamBadResponse):
                await engine.read(PICTURE)
        finally:
            await runner.cleanup()


class TestChoosingEngines:
    def settings(self, **values: object) -> Settings:
        base: dict[str, object] = {
            "dashscope_api_key": None,
            "openai_base_url": None,
            "openai_speech_model": None,
            "openai_vision_model": None,
        }
        base.update(values)
        return Settings(_env_file=None, **base)  # type: ignore[arg-type]

    async def test_auto_prefers_dashscope_then_openai_then_local(
        self, http_session: aiohttp.ClientSession
    ) -> None:
        engines = build_media_engines(self.settings(dashscope_api_key="sk-x"), http_session)
        assert (engines.speech.name, engines.ocr.name) == (  # type: ignore[union-attr]
            "dashscope/paraformer-realtime-v2",
            "dashscope/qwen-vl-ocr",
        )
        openai = self.settings(
            openai_base_url="http://127.0.0.1:1/v1",
            openai_speech_model="whisper-1",
            openai_vision_model="llava",
        )
        engines = build_media_engines(openai, http_session)
        assert (engines.speech.name, engines.ocr.name) == (  # type: ignore[union-attr]
            "openai/whisper-1",
            "openai/llava",
        )
        # A chat-only OpenAI-compatible server (no speech or vision model named) is not used.
        local = build_media_engines(self.settings(openai_base_url="http://x/v1"), http_session)
        assert (local.speech.name, local.ocr.name) == ("pocketsphinx", "rapidocr")  # type: ignore[union-attr]

    async def test_a_named_engine_that_is_not_configured_says_what_to_set(
        self, http_session: aiohttp.ClientSession
    ) -> None:
        engines = build_media_engines(
            self.settings(speech_engine="dashscope", ocr_engine="openai", byok="off"),
            http_session,
        )
        assert isinstance(engines.speech, Unavailable)
        assert (
            "SIMPLECHAT_SPEECH_ENGINE=dashscope, so set DASHSCOPE_API_KEY" in engines.speech.reason
        )
        assert isinstance(engines.ocr, Unavailable)
        assert "SIMPLECHAT_OPENAI_VISION_MODEL" in engines.ocr.reason

    async def test_dashscope_named_without_a_key_runs_on_users_own_keys(
        self, http_session: aiohttp.ClientSession
    ) -> None:
        named = self.settings(speech_engine="dashscope", ocr_engine="dashscope")
        engines = build_media_engines(named, http_session)
        names = ("dashscope/paraformer-realtime-v2", "dashscope/qwen-vl-ocr")
        assert (engines.speech.name, engines.ocr.name) == names  # type: ignore[union-attr]
        assert not engines.has_server_key("dashscope")
        # With the server's key, or picked by `auto` (only ever with the server's key):
        served = build_media_engines(self.settings(dashscope_api_key="sk-x"), http_session)
        assert served.has_server_key("dashscope")
        auto = build_media_engines(self.settings(), http_session)
        assert (auto.speech.name, auto.ocr.name) == ("pocketsphinx", "rapidocr")  # type: ignore[union-attr]

    async def test_openai_speech_named_defaults_to_whisper_1(
        self, http_session: aiohttp.ClientSession
    ) -> None:
        settings = self.settings(speech_engine="openai", openai_base_url="http://x/v1")
        assert build_media_engines(settings, http_session).speech.name == "openai/whisper-1"  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        ("base_url", "websocket_url"),
        [
            (
                "https://dashscope.aliyuncs.com/api/v1",
                "wss://dashscope.aliyuncs.com/api-ws/v1/inference",
            ),
            (
                "https://dashscope-intl.aliyuncs.com/api/v1/",
                "wss://dashscope-intl.aliyuncs.com/api-ws/v1/inference",
            ),
            ("http://127.0.0.1:9000/api/v1", "ws://127.0.0.1:9000/api-ws/v1/inference"),
        ],
    )
    def test_the_websocket_url_sits_beside_the_http_base(
        self, base_url: str, websocket_url: str
    ) -> None:
        assert dashscope_websocket_url(base_url) == websocket_url


def test_fake_events_are_json() -> None:
    from tests.fakes.dashscope_media import event

    assert json.loads(event("t", "task-started"))["header"]["event"] == "task-started"


class TestReadingOrder:
    @staticmethod
    def piece(text: str, x: float, y: float, width: float = 100, height: float = 30) -> OcrLine:
        box = ((x, y), (x + width, y), (x + width, y + height), (x, y + height))
        return OcrLine(text, box, 0.99)

    def test_pieces_of_one_row_join_left_to_right(self) -> None:
        found = reading_order(
            [
                self.piece("3.20", 380, 240),  # a turned photo: the price sits higher
                self.piece("Apples 1kg", 130, 252),
                self.piece("GREEN GROCER", 120, 120),
                self.piece("2.50", 380, 282),
                self.piece("Bread", 130, 292),
            ]
        )
        assert found.text == "GREEN GROCER\nApples 1kg 3.20\nBread 2.50"
        assert [line.text for line in found.lines] == [
            "GREEN GROCER",
            "Apples 1kg",
            "3.20",
            "Bread",
            "2.50",
        ]

    def test_nothing_found(self) -> None:
        assert reading_order([]).text == ""


def test_a_vision_models_code_fence_is_not_text() -> None:
    found = from_text("```text\nCORNER CAFE\n\n  TOTAL 10.50\n```")
    assert found.text == "CORNER CAFE\nTOTAL 10.50"


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


@pytest.mark.parametrize(
    ("prices", "problem"),
    [
        (
            {"speechy": MediaPrice(per_picture=Decimal(1))},
            "speech engine speechy without per_second",
        ),
        (
            {"ocr-ish": MediaPrice(per_second=Decimal(1))},
            "picture engine ocr-ish without per_picture",
        ),
        ({"speechy": MediaPrice(per_second=Decimal(1))}, None),
        ({}, None),
    ],
)
def test_a_price_of_the_wrong_kind_is_refused(
    prices: dict[str, MediaPrice], problem: str | None
) -> None:
    engines = MediaEngines(speech=_Named("speechy"), ocr=_Named("ocr-ish"), prices=prices)  # type: ignore[arg-type]
    if problem is None:
        check_prices(engines)
        return
    with pytest.raises(ValueError, match=problem):
        check_prices(engines)
