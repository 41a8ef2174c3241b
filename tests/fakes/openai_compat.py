"""A fake OpenAI-compatible server on 127.0.0.1 (vLLM, DeepSeek, Ollama, OpenAI itself):
OpenRouter's fake with the differences of a plain OpenAI-compatible server.

    async with FakeOpenAICompat() as fake:
        provider = OpenAICompatProvider("openai", session, fake.base_url, TEST_API_KEY)

Routes under `/v1`: `POST /v1/chat/completions`, `POST /v1/embeddings` (`encoding_format`
float or base64), `GET /v1/models`. What differs from OpenRouter's fake:

- reasoning as DeepSeek and Qwen give it: `message.reasoning_content` and
  `delta.reasoning_content`, when asked with `reasoning_effort` (not "none") or for a model
  whose name says it reasons (`reasoner`, `r1`, `thinking`);
- like DeepSeek, a request whose history carries `reasoning_content` is refused with a 400
  (`refuse_reasoning_in_history`, on by default);
- no keep-alive comments; usage in a stream only with `stream_options.include_usage`;
- `n` choices when `n` is asked.
"""

from typing import Any, ClassVar

from aiohttp import web

from tests.fakes.openrouter import FakeOpenRouter

REASONING_MODEL_MARKERS = ("reasoner", "r1", "thinking")
REASONING_IN_HISTORY = (
    "The reasoning_content of an assistant message must not be sent back in the messages; "
    "remove it from the request."
)


class FakeOpenAICompat(FakeOpenRouter):
    API_PREFIX: ClassVar[str] = "/v1"
    REASONING_FIELD: ClassVar[str] = "reasoning_content"
    KEEPALIVE_FIRST: ClassVar[bool] = False
    USAGE_ALWAYS: ClassVar[bool] = False
    ANSWERS_N: ClassVar[bool] = True
    ID_PREFIX: ClassVar[str] = "chatcmpl-fake"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refuse_reasoning_in_history = True

    def thinking(self, body: dict[str, Any]) -> tuple[bool, bool]:
        effort = body.get("reasoning_effort")
        model = str(body.get("model") or "").lower()
        by_name = any(marker in model for marker in REASONING_MODEL_MARKERS)
        return (effort not in (None, "none") or by_name) and effort != "none", False

    def refusal(self, body: dict[str, Any]) -> web.Response | None:
        if not self.refuse_reasoning_in_history:
            return None
        for message in body.get("messages") or ():
            if isinstance(message, dict) and message.get("reasoning_content"):
                error = {"message": REASONING_IN_HISTORY, "type": "invalid_request_error",
                         "param": None, "code": "invalid_request_error"}  # fmt: skip
                return web.json_response({"error": error}, status=400)
        return None
