"""Bring your own provider key: stored encrypted, never shown, and used for that user's calls
(through OpenRouter, an OpenAI-compatible server and the DashScope SDK) while other users'
calls use the server's key."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simplechat.config import Settings
from tests.factories import app_client, log_in, sign_up, stored_documents, upstream_settings
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY, FakeUpstream

ADA_KEY = "sk-ada-own-key-1111aaaa"
BOB_KEY = "sk-bob-own-key-2222bbbb"
SERVER = f"Bearer {TEST_API_KEY}"


async def put_key(
    client: httpx.AsyncClient, headers: dict[str, str], provider: str, key: str
) -> httpx.Response:
    return await client.put(
        f"/user/provider-keys/{provider}", json={"api_key": key}, headers=headers
    )


def keys_by_message(fake: FakeUpstream) -> dict[str, set[str]]:
    """Which Authorization each user message reached the fake with."""
    seen: dict[str, set[str]] = {}
    for request in fake.requests:
        body = request.json or {}
        messages = body.get("messages") or body.get("input", {}).get("messages") or []
        text = str(messages[-1]["content"]) if messages else ""
        seen.setdefault(text, set()).add(request.header("Authorization") or "")
    return seen


class TestStoring:
    async def test_stored_encrypted_shown_as_last4_removed(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str], settings: Settings
    ) -> None:
        stored = await put_key(client, auth_headers, "dashscope", ADA_KEY)
        assert stored.status_code == 200, stored.text
        assert stored.json()["last4"] == "aaaa"
        assert ADA_KEY not in stored.text
        listed = (await client.get("/user/provider-keys", headers=auth_headers)).json()
        assert listed["byok"] == "allowed"
        assert [(k["provider"], k["last4"]) for k in listed["keys"]] == [("dashscope", "aaaa")]
        docs = await stored_documents(settings, "provider_keys")
        assert len(docs) == 1
        assert ADA_KEY not in repr(docs)
        assert ADA_KEY[:-4] not in repr(docs)
        gone = await client.delete("/user/provider-keys/dashscope", headers=auth_headers)
        assert gone.status_code == 204
        again = await client.delete("/user/provider-keys/dashscope", headers=auth_headers)
        assert again.status_code == 404
        assert await stored_documents(settings, "provider_keys") == []

    @pytest.mark.parametrize(
        ("provider", "body", "status"),
        [
            ("anthropic", {"api_key": ADA_KEY}, 422),
            ("openai", {"api_key": ""}, 422),
            ("openai", {"api_key": "has spaces in it"}, 422),
            ("openai", {"key": ADA_KEY}, 422),
        ],
    )
    async def test_bad_input_is_422(
        self,
        client: httpx.AsyncClient,
        auth_headers: dict[str, str],
        provider: str,
        body: dict[str, Any],
        status: int,
    ) -> None:
        response = await client.put(
            f"/user/provider-keys/{provider}", json=body, headers=auth_headers
        )
        assert response.status_code == status, response.text

    async def test_off_refuses_to_store(self, settings: Settings) -> None:
        async with app_client(upstream_settings(settings, byok="off")) as client:
            headers = await sign_up(client, "eric")
            refused = await put_key(client, headers, "openai", ADA_KEY)
            assert refused.status_code == 422


@pytest.fixture
async def openrouter() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter() as fake:
        fake.user_keys = {ADA_KEY, BOB_KEY}
        yield fake


@pytest.fixture
async def dashscope() -> AsyncIterator[FakeDashScope]:
    async with FakeDashScope() as fake:
        fake.user_keys = {ADA_KEY, BOB_KEY}
        yield fake


VENDORS = {
    # provider name: (settings for the fake, a model of that vendor)
    "openrouter": (
        lambda url: {"openrouter_api_key": TEST_API_KEY, "openrouter_base_url": url},
        "mistralai/mistral-7b-instruct",
    ),
    "openai": (
        lambda url: {"openai_api_key": TEST_API_KEY, "openai_base_url": url},
        "local",  # from the models file below
    ),
    "dashscope": (
        lambda url: {"dashscope_api_key": TEST_API_KEY, "dashscope_base_url": url},
        "qwen-plus",
    ),
}


LOCAL_MODEL = {
    "name": "local",
    "provider": "openai",
    "upstream_id": "llama3",
    "context_window": 8192,
    "max_output_tokens": 512,
}


@pytest.fixture(params=sorted(VENDORS))
async def vendor(
    request: pytest.FixtureRequest,
    openrouter: FakeOpenRouter,
    dashscope: FakeDashScope,
    tmp_path: Path,
) -> tuple[str, FakeUpstream, str, dict[str, Any]]:
    """A vendor's name, its fake, one of its models and the settings that point at the fake."""
    name: str = request.param
    fake: FakeUpstream = dashscope if name == "dashscope" else openrouter
    configure, model = VENDORS[name]
    configured = configure(fake.base_url)
    if name == "openai":
        models = tmp_path / "models.json"
        models.write_text(json.dumps([LOCAL_MODEL]))
        configured.update(models_file=models, default_model="local")
    return name, fake, model, configured


class TestCalls:
    async def test_each_user_reaches_the_provider_with_their_own_key_in_parallel(
        self, settings: Settings, vendor: tuple[str, FakeUpstream, str, dict[str, Any]]
    ) -> None:
        name, fake, model, configured = vendor
        roomy = upstream_settings(settings, burst_limit=50, **configured)
        async with app_client(roomy) as client:
            ada = await sign_up(client, "ada")
            bob = await sign_up(client, "bob")
            cy = await sign_up(client, "cyd")
            assert (await put_key(client, ada, name, ADA_KEY)).status_code == 200
            assert (await put_key(client, bob, name, BOB_KEY)).status_code == 200

            async def send(headers: dict[str, str], text: str, stream: bool) -> None:
                response = await client.post(
                    "/llm/message",
                    json={"message": text, "model": model, "stream": stream},
                    headers=headers,
                )
                assert response.status_code == 200, response.text

            await asyncio.gather(
                *(
                    send(who, f"{label} {i}", stream=i % 2 == 1)
                    for i in range(4)
                    for who, label in ((ada, "ada"), (bob, "bob"), (cy, "cyd"))
                )
            )
        seen = keys_by_message(fake)
        for i in range(4):
            assert seen[f"ada {i}"] == {f"Bearer {ADA_KEY}"}
            assert seen[f"bob {i}"] == {f"Bearer {BOB_KEY}"}
            assert seen[f"cyd {i}"] == {SERVER}  # no key of their own: the server's

    async def test_a_refused_own_key_is_a_clear_400(
        self, settings: Settings, vendor: tuple[str, FakeUpstream, str, dict[str, Any]]
    ) -> None:
        name, _, model, configured = vendor
        async with app_client(upstream_settings(settings, **configured)) as client:
            ada = await sign_up(client, "ada")
            await put_key(client, ada, name, "sk-wrong-key-9999")
            refused = await client.post(
                "/llm/message", json={"message": "hi", "model": model}, headers=ada
            )
            assert refused.status_code == 400, refused.text
            assert refused.json()["code"] == "provider_key_refused"
            assert "your own API key" in refused.json()["detail"]
            on_v1 = await client.post(
                "/v1/chat/completions",
                json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
                headers=ada,
            )
            assert on_v1.status_code == 400
            assert on_v1.json()["error"]["code"] == "provider_key_refused"

    async def test_required_refuses_users_without_a_key(
        self, settings: Settings, dashscope: FakeDashScope
    ) -> None:
        configured = upstream_settings(
            settings,
            byok="required",
            dashscope_api_key=TEST_API_KEY,
            dashscope_base_url=dashscope.base_url,
        )
        async with app_client(configured) as client:
            ada, cy = await sign_up(client, "ada"), await sign_up(client, "cyd")
            await put_key(client, ada, "dashscope", ADA_KEY)
            body = {"message": "hi", "model": "qwen-plus"}
            assert (await client.post("/llm/message", json=body, headers=ada)).status_code == 200
            refused = await client.post("/llm/message", json=body, headers=cy)
            assert refused.status_code == 400
            assert refused.json()["code"] == "provider_key_required"
            assert "PUT /user/provider-keys/dashscope" in refused.json()["detail"]
        assert {r.header("Authorization") for r in dashscope.requests} == {f"Bearer {ADA_KEY}"}

    async def test_off_uses_the_servers_key(
        self, settings: Settings, openrouter: FakeOpenRouter
    ) -> None:
        configured = upstream_settings(
            settings,
            openrouter_api_key=TEST_API_KEY,
            openrouter_base_url=openrouter.base_url,
        )
        async with app_client(configured) as client:
            ada = await sign_up(client, "ada")
            await put_key(client, ada, "openrouter", ADA_KEY)
        off = upstream_settings(configured, byok="off")
        async with app_client(off) as client:
            ada = await log_in(client, "ada")
            sent = await client.post("/llm/message", json={"message": "hi"}, headers=ada)
            assert sent.status_code == 200
        assert {r.header("Authorization") for r in openrouter.requests} == {SERVER}


async def test_a_failed_call_gives_the_keys_count_back(
    settings: Settings, openrouter: FakeOpenRouter
) -> None:
    configured = upstream_settings(
        settings, openrouter_api_key=TEST_API_KEY, openrouter_base_url=openrouter.base_url
    )
    async with app_client(configured) as client:
        headers = await sign_up(client, "eric")
        created = await client.post(
            "/user/keys", json={"name": "sdk", "daily_limit": 1}, headers=headers
        )
        key = {"Authorization": f"Bearer {created.json()['key']}"}
        body = {
            "model": "mistralai/mistral-7b-instruct",
            "messages": [{"role": "user", "content": "x"}],
        }
        openrouter.fail_next("status", status=400)
        failed = await client.post("/v1/chat/completions", json=body, headers=key)
        assert failed.status_code == 502
        assert (await client.get("/user/keys", headers=headers)).json()[0]["used_today"] == 0
        openrouter.fail_next("status", status=400)
        streamed = await client.post(
            "/v1/chat/completions", json={**body, "stream": True}, headers=key
        )
        assert streamed.status_code == 502
        ok = await client.post("/v1/chat/completions", json=body, headers=key)
        assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("name", ["openrouter", "dashscope"])
async def test_a_vendor_the_server_has_no_key_for_answers_with_the_users_own(
    settings: Settings, openrouter: FakeOpenRouter, dashscope: FakeDashScope, name: str
) -> None:
    """BYOK allowed; the server has a key for the other vendor only. A user who stored their
    own key uses this vendor's models (the fake sees their key); one who did not gets a 400
    saying to store it, and nothing reaches the fake."""
    fake: FakeUpstream = openrouter if name == "openrouter" else dashscope
    model = VENDORS[name][1]
    other = "dashscope" if name == "openrouter" else "openrouter"
    other_fake: FakeUpstream = dashscope if other == "dashscope" else openrouter
    configured = upstream_settings(
        settings,
        burst_limit=50,
        openrouter_base_url=openrouter.base_url,
        dashscope_base_url=dashscope.base_url,
        **{f"{other}_api_key": TEST_API_KEY},
    )
    async with app_client(configured) as client:
        ada, cy = await sign_up(client, "ada"), await sign_up(client, "cyd")
        listed = (await client.get("/v1/models", headers=cy)).json()["data"]
        assert model in {m["id"] for m in listed}
        assert (await put_key(client, ada, name, ADA_KEY)).status_code == 200
        for stream in (False, True):
            body = {"message": f"ada {stream}", "model": model, "stream": stream}
            sent = await client.post("/llm/message", json=body, headers=ada)
            assert sent.status_code == 200, sent.text
        refused = await client.post(
            "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "cyd"}]},
            headers=cy,
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "provider_key_required"
        assert f"PUT /user/provider-keys/{name}" in refused.json()["error"]["message"]
        others = await client.post("/llm/message", json={"message": "cyd other"}, headers=cy)
        assert others.status_code == 200, others.text  # the default: the server's vendor
    own = {f"Bearer {ADA_KEY}"}
    assert keys_by_message(fake) == {"ada False": own, "ada True": own}
    assert keys_by_message(other_fake) == {"cyd other": {SERVER}}


async def test_required_needs_no_server_key_at_all(
    settings: Settings, dashscope: FakeDashScope
) -> None:
    """BYOK required and no vendor key on the server: no placeholder needed, the users' own
    keys answer; the mock model still answers by name."""
    configured = upstream_settings(settings, byok="required", dashscope_base_url=dashscope.base_url)
    async with app_client(configured) as client:
        ada, cy = await sign_up(client, "ada"), await sign_up(client, "cyd")
        await put_key(client, ada, "dashscope", ADA_KEY)
        body = {"message": "hi", "model": "qwen-plus"}
        answered = await client.post("/llm/message", json=body, headers=ada)
        assert answered.status_code == 200, answered.text
        assert not answered.json()["mock"]
        refused = await client.post("/llm/message", json=body, headers=cy)
        assert refused.status_code == 400
        assert refused.json()["code"] == "provider_key_required"
        mock = await client.post("/llm/message", json={**body, "model": "mock"}, headers=cy)
        assert mock.status_code == 200
    assert {r.header("Authorization") for r in dashscope.requests} == {f"Bearer {ADA_KEY}"}
