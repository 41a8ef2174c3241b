"""One POST to an OpenAI-compatible server that answers JSON, with the shared error mapping
(`retry`): the media engines' transport (transcriptions and vision chat completions)."""

import json
from typing import Any

import aiohttp

from simplechat.llm.openai_compat import error_details
from simplechat.llm.retry import (
    RetryPolicy,
    bad_response,
    call_with_retry,
    failure_for_status,
    own_key_refusals,
    parse_retry_after,
    transport_failures,
)


class JsonEndpoint:
    """`POST url` with a Bearer key (if any); a 200 must be a JSON object."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        api_key: str | None,
        name: str,
        label: str,
        retry: RetryPolicy,
    ) -> None:
        self._session = session
        self._url = url
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._name = name
        self._vendor = "openai"  # the provider of users' own keys (PUT /user/provider-keys/)
        self._label = label
        self._retry = retry

    async def post(
        self, *, json_body: Any = None, form: Any = None, api_key: str | None = None
    ) -> dict[str, Any]:
        """Retries 429/5xx and connection failures. `form` builds a fresh body per attempt
        (an aiohttp FormData can be sent only once). `api_key`: the caller's own key, for
        this call instead of the server's (a 401/403 then says their key was refused)."""
        headers = self._headers if api_key is None else {"Authorization": f"Bearer {api_key}"}

        async def attempt() -> dict[str, Any]:
            body = form() if callable(form) else None
            with transport_failures(self._name, self._label):
                async with self._session.post(
                    self._url, json=json_body, data=body, headers=headers
                ) as response:
                    text = await response.text()
                    if response.status != 200:
                        message, error_type = error_details(text)
                        retry_after = parse_retry_after(response.headers.get("Retry-After"))
                        raise failure_for_status(
                            self._name,
                            self._label,
                            response.status,
                            message,
                            error_type=error_type,
                            retry_after=retry_after,
                        )
            try:
                decoded = json.loads(text)
            except ValueError:
                raise bad_response(self._name, self._label, "not valid JSON") from None
            if not isinstance(decoded, dict):
                raise bad_response(self._name, self._label, "not a JSON object")
            return decoded

        with own_key_refusals(api_key, self._vendor, self._label):
            return await call_with_retry(self._retry, self._name, attempt)
