"""Logs never carry message text or secrets: not the user's words, not the password, not the
JWT, not the provider key, at any of simplechat's levels (DEBUG included) and on failure paths."""

import logging
from collections.abc import Iterable
from typing import Any

import pytest

from simplechat.config import Settings
from simplechat.kit.logs import logging_config
from tests.factories import app_client, sign_up_admin
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

MESSAGE = "my secret diary entry number 7731"
PASSWORD = "hunter2-correct-horse"


def record_texts(records: Iterable[logging.LogRecord]) -> list[str]:
    """Everything a formatter could print: the message, the extra fields, the traceback."""
    texts = []
    for record in records:
        texts.append(record.getMessage())
        texts.extend(
            repr(value) for key, value in vars(record).items() if key not in ("msg", "args")
        )
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    return texts


async def test_no_message_text_or_secret_in_any_log(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="simplechat")
    caplog.set_level(logging.DEBUG, logger="uvicorn")
    async with FakeOpenRouter() as upstream:
        values = settings.model_dump()
        values.update(
            openrouter_api_key=TEST_API_KEY,
            openrouter_base_url=upstream.base_url,
            upstream_backoff_seconds=0.01,
        )
        configured = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        async with app_client(configured) as client:
            credentials = {"username": "eric", "password": PASSWORD}
            assert (await client.post("/user/", json=credentials)).status_code == 201
            await client.post("/token", data={"username": "eric", "password": "wrong-password"})
            token = (await client.post("/token", data=credentials)).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            body: dict[str, Any] = {"message": MESSAGE}
            assert (
                await client.post("/llm/message", json=body, headers=headers)
            ).status_code == 200
            stream = {**body, "stream": True}
            assert (
                await client.post("/llm/message", json=stream, headers=headers)
            ).status_code == 200
            upstream.fail_next("status", times=3, status=500, message=f"upstream echoes {MESSAGE}")
            failed = await client.post("/llm/message/advanced", json=body, headers=headers)
            assert failed.status_code == 502
            upstream.fail_next("midstream_error", after=2, message=f"broke on {MESSAGE}")
            await client.post("/llm/message", json=stream, headers=headers)
            openai = {"messages": [{"role": "user", "content": MESSAGE}]}
            await client.post("/v1/chat/completions", json=openai, headers=headers)
            await client.get("/user/history/5", headers=headers)
            await client.post("/llm/message", json={"message": "x" * 2_000_000}, headers=headers)
            await client.get("/user/me", headers={"Authorization": f"Bearer {token}x"})

    assert caplog.records, "nothing was logged: the test would prove nothing"
    texts = record_texts(caplog.records)
    for secret in (MESSAGE, PASSWORD, token, TEST_API_KEY, token.split(".")[2]):
        leaks = [text for text in texts if secret in text]
        assert not leaks, f"{secret[:12]}... appears in the logs: {leaks[:2]}"


def test_library_loggers_stay_at_warning_even_in_debug() -> None:
    """pymongo logs whole commands (message text included) at DEBUG: the configuration must
    never lower a library below WARNING, whatever SIMPLECHAT_LOG_LEVEL says."""
    config = logging_config("debug", "json")
    assert config["root"]["level"] == "WARNING"
    assert all(name.startswith(("simplechat", "uvicorn")) for name in config["loggers"])


async def test_no_redeem_code_or_key_in_any_log(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """GET and DELETE /admin/codes/{code} carry the code in their path: the access log shows
    its first symbols only; neither does a personal or provider key reach a log."""
    caplog.set_level(logging.DEBUG, logger="simplechat")
    values = settings.model_dump()
    values.update(credits=True)
    configured = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    async with app_client(configured) as client:
        admin = await sign_up_admin(client, configured, "alice")
        made = await client.post("/admin/codes", json={"credits": "1", "count": 2}, headers=admin)
        first, second = (c["code"] for c in made.json()["codes"])
        assert (await client.get(f"/admin/codes/{first}", headers=admin)).status_code == 200
        compact = second.replace("-", "")
        assert (await client.delete(f"/admin/codes/{compact}", headers=admin)).status_code == 200
        spaced = first.lower().replace("-", " ")
        assert (await client.get(f"/admin/codes/{spaced}", headers=admin)).status_code == 200
        key = (await client.post("/user/keys", json={"name": "k"}, headers=admin)).json()["key"]
        await client.get(f"/user/keys/{key}", headers={"Authorization": f"Bearer {key}"})
        provider = "sk-or-v1-" + "0123456789abcdef" * 4
        await client.put(
            "/user/provider-keys/openrouter", json={"api_key": provider}, headers=admin
        )
    texts = record_texts(caplog.records)
    assert any("/admin/codes/" in text for text in texts), "the access log shows the route"
    for secret in (first, first.replace("-", ""), second, compact, spaced, key, provider):
        leaks = [text for text in texts if secret in text or secret[8:] in text]
        assert not leaks, f"{secret[:8]}... appears in the logs: {leaks[:2]}"
