"""Picture-to-text through a vision model on any OpenAI-compatible server: one chat
completion whose user message holds the instruction and the picture as a data URL
(`image_url` content part), over the application's shared aiohttp session."""

from typing import Any

import aiohttp

from simplechat.llm.ocr.base import OcrText, Picture, from_text
from simplechat.llm.openai_wire import first_choice
from simplechat.llm.retry import RetryPolicy, bad_response
from simplechat.llm.upstream_json import JsonEndpoint

CHAT_PATH = "/chat/completions"
OPENAI_VISION_LABEL = "the OpenAI-compatible vision server"
OCR_INSTRUCTION = (
    "Read all the text in this picture. Answer with the text only, line by line as it "
    "appears, without any comment, translation or formatting."
)
MAX_TOKENS = 4096


class OpenAIVisionOcr:
    vendor: str | None = "openai"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        retry: RetryPolicy,
    ) -> None:
        self.name = f"openai/{model}"
        self._model = model
        self._endpoint = JsonEndpoint(
            session,
            base_url.rstrip("/") + CHAT_PATH,
            api_key=api_key,
            name="openai-vision",
            label=OPENAI_VISION_LABEL,
            retry=retry,
        )

    async def read(self, picture: Picture, *, api_key: str | None = None) -> OcrText:
        """The model's text, one line per line it wrote (no boxes or confidences)."""
        content: list[dict[str, Any]] = [
            {"type": "text", "text": OCR_INSTRUCTION},
            {"type": "image_url", "image_url": {"url": picture.data_url()}},
        ]
        payload = {
            "model": self._model,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": MAX_TOKENS,
            "temperature": 0,
        }
        body = await self._endpoint.post(json_body=payload, api_key=api_key)
        message = first_choice(body).get("message")
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise bad_response("openai-vision", OPENAI_VISION_LABEL, "no text in the answer")
        return from_text(message["content"])

    async def aclose(self) -> None:
        """Nothing to release: the shared session belongs to the application."""
