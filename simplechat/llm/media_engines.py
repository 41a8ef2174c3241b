"""Choosing the speech and picture engines from the settings and from what is configured.

    SIMPLECHAT_SPEECH_ENGINE / SIMPLECHAT_OCR_ENGINE = auto | dashscope | openai | local

`auto` takes the first that is usable: DashScope (DASHSCOPE_API_KEY set), then an
OpenAI-compatible server (SIMPLECHAT_OPENAI_BASE_URL set and a speech or vision model named:
a chat-only server such as Ollama has no transcriptions), then the local engines (the
`local-media` extra installed). A named engine that is not usable, or `auto` with nothing
usable, gives `Unavailable`, whose reason says what to install or set; the endpoints answer
it with 503. Nothing is loaded here: the local engines load their models on first use.

`dashscope` named with no DASHSCOPE_API_KEY, while users may bring their own keys
(SIMPLECHAT_BYOK not `off`): the DashScope engine runs on each user's own key only, and a user
without one gets 400 provider_key_required (as chat does for a vendor the server has no key for).

Their prices (with credits on) come from the models file's `media` list (`llm.catalog`): a
speech engine's per second, a picture engine's per picture; an engine not named is free.
"""

import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from simplechat.config import Settings
from simplechat.llm.catalog import load_media_prices
from simplechat.llm.local import LOCAL_EXTRA_HINT, LocalRunner, installed
from simplechat.llm.ocr.base import OcrEngine
from simplechat.llm.ocr.dashscope import DashScopeOcr
from simplechat.llm.ocr.openai_compat import OpenAIVisionOcr
from simplechat.llm.ocr.rapidocr import RapidOcr
from simplechat.llm.pricing import MediaPrice
from simplechat.llm.retry import RetryPolicy
from simplechat.llm.speech.base import SpeechEngine
from simplechat.llm.speech.dashscope import DashScopeSpeech
from simplechat.llm.speech.openai_compat import OpenAISpeech
from simplechat.llm.speech.pocketsphinx import PocketSphinxSpeech
from simplechat.llm.vendors import VENDORS

log = logging.getLogger("simplechat.media")

DEFAULT_OPENAI_SPEECH_MODEL = "whisper-1"
DASHSCOPE_HTTP_PATH = "/api/v1"
DASHSCOPE_WEBSOCKET_PATH = "/api-ws/v1/inference"
ORDER = ("dashscope", "openai", "local")


@dataclass(frozen=True, slots=True)
class Unavailable:
    """No engine: `reason` says what to install or set."""

    reason: str


@dataclass(slots=True)
class MediaEngines:
    speech: SpeechEngine | Unavailable
    ocr: OcrEngine | Unavailable
    prices: dict[str, MediaPrice] = field(default_factory=dict)  # by engine name
    keyless_vendors: frozenset[str] = frozenset()  # the vendors the server has no key for

    def price(self, engine: str) -> MediaPrice | None:
        """The engine's price (None: free)."""
        return self.prices.get(engine)

    def has_server_key(self, vendor: str) -> bool:
        """Whether calls to `vendor` may use the server's key (False: users' own keys only)."""
        return vendor not in self.keyless_vendors

    async def aclose(self) -> None:
        for engine in (self.speech, self.ocr):
            if not isinstance(engine, Unavailable):
                await engine.aclose()


def dashscope_websocket_url(base_url: str) -> str:
    """The Recognition WebSocket URL beside a DashScope HTTP base URL:
    https://host/api/v1 -> wss://host/api-ws/v1/inference (http -> ws)."""
    parts = urlsplit(base_url.rstrip("/"))
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    path = parts.path.removesuffix(DASHSCOPE_HTTP_PATH) + DASHSCOPE_WEBSOCKET_PATH
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def build_media_engines(settings: Settings, session: aiohttp.ClientSession) -> MediaEngines:
    retry = RetryPolicy(
        max_retries=settings.upstream_max_retries,
        backoff_seconds=settings.upstream_backoff_seconds,
        max_retry_after_seconds=settings.upstream_max_retry_after_seconds,
    )
    runner = LocalRunner(
        workers=settings.media_local_workers, queue_seconds=settings.media_queue_seconds
    )
    engines = MediaEngines(
        speech=_speech(settings, session, retry, runner),
        ocr=_ocr(settings, session, retry, runner),
        prices=load_media_prices(settings.models_file),
        keyless_vendors=frozenset(v.name for v in VENDORS if not v.configured(settings)),
    )
    check_prices(engines)
    for kind, engine in (("speech", engines.speech), ("ocr", engines.ocr)):
        chosen = engine.reason if isinstance(engine, Unavailable) else engine.name
        log.info("media.engine kind=%s engine=%s", kind, chosen)
    return engines


def check_prices(engines: MediaEngines) -> None:
    """Raise ValueError when the chosen speech engine is priced per picture, or the picture
    engine per second (a price that would never apply: the engine would be free)."""
    for engine, needs in ((engines.speech, "per_second"), (engines.ocr, "per_picture")):
        price = None if isinstance(engine, Unavailable) else engines.price(engine.name)
        if price is not None and getattr(price, needs) is None:
            assert not isinstance(engine, Unavailable)
            kind = "speech" if needs == "per_second" else "picture"
            raise ValueError(
                f"The models file prices the {kind} engine {engine.name} without {needs}."
            )


def _speech(
    settings: Settings, session: aiohttp.ClientSession, retry: RetryPolicy, runner: LocalRunner
) -> SpeechEngine | Unavailable:
    choice = settings.speech_engine
    key = _dashscope_key(settings, choice)
    if key is not None:
        return DashScopeSpeech(
            api_key=key,
            websocket_url=settings.dashscope_websocket_url
            or dashscope_websocket_url(settings.dashscope_base_url),
            model=settings.dashscope_speech_model,
            timeout_seconds=settings.read_timeout_seconds,
            retry=retry,
        )
    model = settings.openai_speech_model or (
        DEFAULT_OPENAI_SPEECH_MODEL if choice == "openai" else None
    )
    if choice in ("auto", "openai") and settings.openai_base_url and model:
        api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAISpeech(
            session, base_url=settings.openai_base_url, api_key=api_key, model=model, retry=retry
        )
    if choice in ("auto", "local") and installed("pocketsphinx"):
        return PocketSphinxSpeech(runner)
    return Unavailable(_missing("speech", choice))


def _ocr(
    settings: Settings, session: aiohttp.ClientSession, retry: RetryPolicy, runner: LocalRunner
) -> OcrEngine | Unavailable:
    choice = settings.ocr_engine
    key = _dashscope_key(settings, choice)
    if key is not None:
        return DashScopeOcr(
            session,
            api_key=key,
            base_url=settings.dashscope_base_url,
            model=settings.dashscope_ocr_model,
            timeout_seconds=settings.read_timeout_seconds,
            retry=retry,
        )
    model = settings.openai_vision_model
    if choice in ("auto", "openai") and settings.openai_base_url and model:
        api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIVisionOcr(
            session, base_url=settings.openai_base_url, api_key=api_key, model=model, retry=retry
        )
    if choice in ("auto", "local") and installed("rapidocr", "onnxruntime"):
        return RapidOcr(runner)
    return Unavailable(_missing("ocr", choice))


def _dashscope_key(settings: Settings, choice: str) -> str | None:
    """The server's DashScope key for an engine under `choice`; "" when `dashscope` is named
    without one and users bring their own; None: no DashScope engine."""
    if choice not in ("auto", "dashscope"):
        return None
    if settings.dashscope_api_key is not None:
        return settings.dashscope_api_key.get_secret_value()
    return "" if choice == "dashscope" and settings.byok != "off" else None


def _missing(kind: str, choice: str) -> str:
    """What to install or set for `kind` ("speech" or "ocr") under the engine `choice`."""
    model_setting = "SIMPLECHAT_OPENAI_SPEECH_MODEL" if kind == "speech" else (
        "SIMPLECHAT_OPENAI_VISION_MODEL")  # fmt: skip
    what = "speech-to-text" if kind == "speech" else "picture-to-text"
    setting = "SIMPLECHAT_SPEECH_ENGINE" if kind == "speech" else "SIMPLECHAT_OCR_ENGINE"
    options = {
        "dashscope": "set DASHSCOPE_API_KEY",
        "openai": "set SIMPLECHAT_OPENAI_BASE_URL"
        + (f" and {model_setting}" if kind == "ocr" else ""),
        "local": f"install the local engines: {LOCAL_EXTRA_HINT}",
    }
    if choice != "auto":
        return f"No {what} engine: {setting}={choice}, so {options[choice]}."
    auto = dict(options, openai=f"set SIMPLECHAT_OPENAI_BASE_URL and {model_setting}")
    return f"No {what} engine is configured: {'; or '.join(auto[name] for name in ORDER)}."
