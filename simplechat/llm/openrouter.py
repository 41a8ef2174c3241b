"""OpenRouter: the OpenAI-compatible provider plus OpenRouter's app-attribution headers.

`HTTP-Referer` identifies the app; `X-OpenRouter-Title` names it (`X-Title` is the older spelling,
still sent for backward compatibility). OpenRouter ignores the title without the referer.
"""

import aiohttp

from simplechat.llm.openai_compat import OpenAICompatProvider
from simplechat.llm.retry import RetryPolicy

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
        )
