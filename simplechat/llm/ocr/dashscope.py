"""Picture-to-text with DashScope's `qwen-vl-ocr` through the official SDK's
`AioMultiModalConversation`, over the application's aiohttp session (`session=`), the key and
base URL passed with every call.

The picture goes as a `data:` URL: a local path (or `file://`) would make the SDK upload the
file to OSS first (providers.md §4.1). Errors come back as response objects (status, code,
message), mapped like the chat provider's (`llm.dashscope`).
"""

from typing import Any

import aiohttp

from simplechat.llm.dashscope import CODE_STATUSES, THROTTLING_PREFIX
from simplechat.llm.ocr.base import OcrText, Picture, from_text
from simplechat.llm.retry import (
    RetryPolicy,
    bad_response,
    call_with_retry,
    failure_for_status,
    own_key_refusals,
    transport_failures,
)

DASHSCOPE_OCR_NAME = "dashscope-ocr"
LABEL = "DashScope"
OCR_INSTRUCTION = "Read all the text in the image, line by line."


class DashScopeOcr:
    vendor: str | None = "dashscope"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_key: str,
        base_url: str,
        model: str,
        timeout_seconds: float,
        retry: RetryPolicy,
    ) -> None:
        self.name = f"dashscope/{model}"
        self._session = session
        self._api_key = api_key
        self._base_url = base_url
        self._model = model
        self._timeout = timeout_seconds
        self._retry = retry

    async def read(self, picture: Picture, *, api_key: str | None = None) -> OcrText:
        """The model's text, one line per line it wrote (no boxes or confidences)."""
        with own_key_refusals(api_key, "dashscope", LABEL):
            response = await call_with_retry(
                self._retry, DASHSCOPE_OCR_NAME, lambda: self._call(picture, api_key)
            )
        output = getattr(response, "output", None) or {}
        choices = output.get("choices") or []
        message = (choices[0].get("message") if choices else None) or {}
        content = message.get("content")
        if isinstance(content, list):
            text = "".join(
                str(part.get("text") or "") for part in content if isinstance(part, dict)
            )
        elif isinstance(content, str):
            text = content
        else:
            raise bad_response(DASHSCOPE_OCR_NAME, LABEL, "no text in the answer")
        return from_text(text)

    async def _call(self, picture: Picture, api_key: str | None) -> Any:
        import dashscope  # imported on first use: the SDK takes about half a second to import

        messages: Any = [
            {"role": "user", "content": [{"image": picture.data_url()}, {"text": OCR_INSTRUCTION}]}
        ]
        with transport_failures(DASHSCOPE_OCR_NAME, LABEL):
            try:
                response: Any = await dashscope.AioMultiModalConversation.call(
                    model=self._model,
                    messages=messages,
                    api_key=api_key or self._api_key,  # the caller's own key first
                    base_address=self._base_url,
                    session=self._session,
                    request_timeout=self._timeout,
                )
            except (aiohttp.ContentTypeError, ValueError, TypeError, KeyError) as exc:
                raise bad_response(DASHSCOPE_OCR_NAME, LABEL, type(exc).__name__) from exc
        status = int(response.status_code)
        if status != 200:
            code = str(response.code or "")
            status = 429 if code.startswith(THROTTLING_PREFIX) else CODE_STATUSES.get(code, status)
            message = str(response.message or code or "no details")
            raise failure_for_status(DASHSCOPE_OCR_NAME, LABEL, status, message, error_type=code)
        return response

    async def aclose(self) -> None:
        """Nothing to release: the shared session belongs to the application."""
