"""A key's max_credits: each call holds its worst case on the key's budget (credits on or
off), settled to the real cost; a failed call spends nothing; 10 parallel requests on two
workers against a key that covers 3 messages: exactly 3 answered."""

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from simplechat.config import Settings
from tests.factories import app_client, serve, sign_up, stored_documents, upstream_settings
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY
from tests.keys.test_router import bearer, new_key

# The mock answers with max_output_tokens words: each message holds and costs 0.5 credits.
PRICED_MOCK = """
[[models]]
name = "mock"
max_output_tokens = 5
price = { input = "0", output = "100" }
"""
MESSAGE = 5_000  # units: 0.5 credits
COMPLETION = {"model": "mock", "messages": [{"role": "user", "content": "tell me a story"}]}


def models_file(tmp_path: Path, text: str = PRICED_MOCK) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


def priced(settings: Settings, tmp_path: Path, **overrides: Any) -> Settings:
    values = settings.model_dump() | {
        "burst_limit": 100,
        "models_file": models_file(tmp_path),
        "default_model": "mock",
    }
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]


async def key_row(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    listed = await client.get("/user/keys", headers=headers)
    row: dict[str, Any] = listed.json()[0]
    return row


@pytest.mark.parametrize("credits", [False, True])
async def test_the_key_stops_at_its_cap_and_shows_what_it_spent(
    settings: Settings, tmp_path: Path, credits: bool
) -> None:
    configured = priced(settings, tmp_path, credits=credits, signup_credits="100")
    async with app_client(configured) as client:
        headers = await sign_up(client, "eric")
        key = await new_key(client, headers, max_credits=3 * MESSAGE)
        assert (key["credits_used"], key["credits_left"]) == (0, 3 * MESSAGE)
        for n in range(3):
            sent = await client.post(
                "/v1/chat/completions", json={**COMPLETION, "stream": n == 1}, headers=bearer(key)
            )
            assert sent.status_code == 200, sent.text
        refused = await client.post("/v1/chat/completions", json=COMPLETION, headers=bearer(key))
        assert refused.status_code == 402, refused.text
        error = refused.json()["error"]
        assert error["code"] == "key_credit_limit"
        assert error["type"] == "insufficient_quota"  # OpenAI's type for a spent budget
        assert "max_credits" in error["message"]
        on_llm = await client.post("/llm/message", json={"message": "and?"}, headers=bearer(key))
        assert on_llm.status_code == 402
        assert on_llm.json()["code"] == "key_credit_limit"
        row = await key_row(client, headers)
        assert (row["credits_used"], row["credits_left"]) == (3 * MESSAGE, 0)
        assert row["uses"] == 3  # the refused calls gave their count back
        # The user's own token is not capped by the key.
        own = await client.post("/llm/message", json={"message": "hi"}, headers=headers)
        assert own.status_code == 200
        if credits:
            balance = (await client.get("/user/credits", headers=headers)).json()["balance"]
            assert balance == "98.0000"  # 4 messages of 0.5 from the user's own credits


async def test_raising_lowering_and_clearing_the_cap(settings: Settings, tmp_path: Path) -> None:
    async with app_client(priced(settings, tmp_path)) as client:
        headers = await sign_up(client, "eric")
        key = await new_key(client, headers, max_credits=MESSAGE)

        async def send() -> int:
            sent = await client.post("/v1/chat/completions", json=COMPLETION, headers=bearer(key))
            return sent.status_code

        assert [await send(), await send()] == [200, 402]

        async def patch(max_credits: int | None) -> dict[str, Any]:
            changed = await client.patch(
                f"/user/keys/{key['id']}", json={"max_credits": max_credits}, headers=headers
            )
            assert changed.status_code == 200, changed.text
            body: dict[str, Any] = changed.json()
            return body

        raised = await patch(2 * MESSAGE)
        assert (raised["credits_used"], raised["credits_left"]) == (MESSAGE, MESSAGE)
        assert await send() == 200
        lowered = await patch(MESSAGE)  # below what was spent: nothing left
        assert (lowered["credits_used"], lowered["credits_left"]) == (2 * MESSAGE, 0)
        cleared = await patch(None)
        assert (cleared["credits_used"], cleared["credits_left"]) == (None, None)
        assert await send() == 200  # no cap
        again = await patch(MESSAGE)  # a new cap counts from zero
        assert (again["credits_used"], again["credits_left"]) == (0, MESSAGE)
        gone = await client.delete(f"/user/keys/{key['id']}", headers=headers)
        assert gone.status_code == 204
    assert await stored_documents(settings, "credit_accounts") == []  # the budget went too


async def test_a_failed_provider_call_spends_nothing(settings: Settings, tmp_path: Path) -> None:
    catalog = """
[[models]]
name = "paid-upstream"
provider = "openrouter"
upstream_id = "mistralai/mistral-7b-instruct"
context_window = 8192
max_output_tokens = 5
price = { input = "0", output = "100" }
"""
    async with FakeOpenRouter() as openrouter:
        configured = upstream_settings(
            settings,
            openrouter_api_key=TEST_API_KEY,
            openrouter_base_url=openrouter.base_url,
            models_file=models_file(tmp_path, catalog),
            default_model="paid-upstream",
        )
        async with app_client(configured) as client:
            headers = await sign_up(client, "eric")
            key = await new_key(client, headers, max_credits=MESSAGE)
            body = {**COMPLETION, "model": "paid-upstream"}
            for stream in (False, True):
                openrouter.fail_next("status", status=400)
                failed = await client.post(
                    "/v1/chat/completions", json={**body, "stream": stream}, headers=bearer(key)
                )
                assert failed.status_code == 502
                row = await key_row(client, headers)
                assert (row["credits_used"], row["credits_left"]) == (0, MESSAGE)
            ok = await client.post("/v1/chat/completions", json=body, headers=bearer(key))
            assert ok.status_code == 200, ok.text
            spent = (await key_row(client, headers))["credits_used"]
            assert 0 < spent <= MESSAGE
        assert await stored_documents(configured, "holds") == []


def test_the_cap_holds_across_two_workers(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    """10 parallel requests on a key whose max_credits covers exactly 3 messages, against
    `serve --workers 2` (credits off): exactly 3 answered, and the key spent their cost."""
    env = {
        "SIMPLECHAT_DAILY_LIMIT": "100",
        "SIMPLECHAT_BURST_LIMIT": "100",
        "SIMPLECHAT_MODELS_FILE": str(models_file(tmp_path)),
        "SIMPLECHAT_DEFAULT_MODEL": "mock",
    }
    with serve(mongo_uri, database_name, tmp_path, **env) as base:
        responses, row, usage = asyncio.run(_burst_on_a_capped_key(base))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 3 + [402] * 7, [r.text for r in responses]
    refused = {r.json()["error"]["code"] for r in responses if r.status_code == 402}
    assert refused == {"key_credit_limit"}
    # What the key spent is what the 3 answered messages cost, by their usage records.
    assert (usage["replies"], usage["cost"]) == (3, "1.5000")
    assert (row["credits_used"], row["credits_left"]) == (3 * MESSAGE, 0)


async def _burst_on_a_capped_key(
    base: str,
) -> tuple[list[httpx.Response], dict[str, Any], dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        headers = await sign_up(client, "eric")
        key = await new_key(client, headers, max_credits=3 * MESSAGE)
        responses = list(
            await asyncio.gather(
                *(
                    client.post("/v1/chat/completions", json=COMPLETION, headers=bearer(key))
                    for _ in range(10)
                )
            )
        )
        row = await key_row(client, headers)
        usage: dict[str, Any] = (await client.get("/user/usage", headers=headers)).json()["total"]
        return responses, row, usage
