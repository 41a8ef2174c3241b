"""OpenRouter: the OpenAI-compatible provider plus OpenRouter's app-attribution headers.

`HTTP-Referer` identifies the app; `X-OpenRouter-Title` names it (`X-Title` is the older spelling,
still sent for backward compatibility). OpenRouter ignores the title without the referer.

Its wire is OpenAI's with OpenRouter's reasoning: asked for with the `reasoning` object
(`effort`, `max_tokens`, `enabled`, `exclude`), answered as `message.reasoning` and streamed
as `delta.reasoning` (`openai_wire.OPENROUTER_DIALECT`). Embeddings: `POST /api/v1/embeddings`
in OpenAI's shape.
"""

import aiohttp

from simplechat.config import Settings
from simplechat.kit.secrets import mask_secret
from simplechat.llm.base import Vendor
from simplechat.llm.openai_compat import OpenAICompatProvider
from simplechat.llm.openai_wire import OPENROUTER_DIALECT
from simplechat.llm.retry import RetryPolicy
from simplechat.llm.types import CHAT_PARAMETERS

# OpenRouter passes these on (and ignores those a model lacks); it answers one choice only.
OPENROUTER_PARAMETERS = CHAT_PARAMETERS - {"n"}

OPENROUTER_NAME = "openrouter"
OPENROUTER_LABEL = "OpenRouter"


def attribution_headers(referer: str, title: str) -> dict[str, str]:
    return {"HTTP-Referer": referer, "X-OpenRouter-Title": title, "X-Title": title}


class OpenRouterProvider(OpenAICompatProvider):
    """OpenAI-compatible chat completions at `base_url` (e.g. https://openrouter.ai/api/v1)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: str,
        referer: str,
        title: str,
        retry: RetryPolicy | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> None:
        super().__init__(
            OPENROUTER_NAME,
            session,
            base_url,
            api_key,
            label=OPENROUTER_LABEL,
            extra_headers=attribution_headers(referer, title),
            retry=retry,
            timeout=timeout,
            dialect=OPENROUTER_DIALECT,
        )


def _build(
    settings: Settings, session: aiohttp.ClientSession, retry: RetryPolicy
) -> OpenRouterProvider:
    assert settings.openrouter_api_key is not None
    return OpenRouterProvider(
        session,
        base_url=settings.openrouter_base_url,
        api_key=settings.openrouter_api_key.get_secret_value(),
        referer=settings.openrouter_referer,
        title=settings.openrouter_title,
        retry=retry,
    )


def _build_byok(
    settings: Settings, session: aiohttp.ClientSession, retry: RetryPolicy
) -> OpenRouterProvider:
    """No server key: each call carries the user's own (an empty key sends no header)."""
    return OpenRouterProvider(
        session,
        base_url=settings.openrouter_base_url,
        api_key="",
        referer=settings.openrouter_referer,
        title=settings.openrouter_title,
        retry=retry,
    )


def _describe(settings: Settings) -> str:
    if settings.openrouter_api_key is None:
        return "set OPENROUTER_API_KEY"
    return f"key {mask_secret(settings.openrouter_api_key)}, {settings.openrouter_base_url}"


VENDOR = Vendor(
    name=OPENROUTER_NAME,
    label=OPENROUTER_LABEL,
    configured=lambda settings: settings.openrouter_api_key is not None,
    describe=_describe,
    build=_build,
    sends_images=True,
    build_byok=_build_byok,
    chat_parameters=OPENROUTER_PARAMETERS,
)
