"""Helpers shared by the resilience suite: the app wired to a fake upstream, and the questions
every fault test asks afterwards (was the message kept? was the quota given back?)."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from simplechat.config import Settings
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY, FakeUpstream

SEED = "hi, my name is Eric"


@dataclass
class Upstream:
    """A fake provider and how to point simplechat at it."""

    name: str
    fake: FakeUpstream
    model: str

    def settings(self, base: Settings, **overrides: Any) -> Settings:
        values = base.model_dump()
        values.update(
            upstream_backoff_seconds=0.01,
            upstream_max_retries=2,
            read_timeout_seconds=2.0,
            burst_limit=1,  # one slot: a failed request must give it back for the next to pass
        )
        if self.name == "openrouter":
            values.update(openrouter_api_key=TEST_API_KEY, openrouter_base_url=self.fake.base_url)
        else:
            values.update(dashscope_api_key=TEST_API_KEY, dashscope_base_url=self.fake.base_url)
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(params=["openrouter", "dashscope"])
async def upstream(request: pytest.FixtureRequest) -> AsyncIterator[Upstream]:
    if request.param == "openrouter":
        async with FakeOpenRouter() as fake:
            yield Upstream("openrouter", fake, "mistralai/mistral-7b-instruct")
    else:
        async with FakeDashScope() as dashscope:
            yield Upstream("dashscope", dashscope, "qwen-plus")


async def chat(
    client: httpx.AsyncClient, headers: dict[str, str], model: str, *, stream: bool = False
) -> httpx.Response:
    body: dict[str, Any] = {"message": SEED, "model": model}
    if stream:
        body["stream"] = True
    return await client.post("/llm/message", json=body, headers=headers)


async def assert_kept_and_given_back(
    client: httpx.AsyncClient, headers: dict[str, str], upstream: Upstream
) -> None:
    """The failed message is in the history and counted nowhere: the daily count is back to 0
    and the single burst slot is free again, so the next message (upstream healthy) passes."""
    history = (await client.get("/user/history/1", headers=headers)).json()
    assert history == [{"type": "user", "text": SEED}]
    assert (await client.get("/user/status", headers=headers)).json()["chat_cnt"] == 0
    upstream.fake._failures.clear()
    again = await chat(client, headers, upstream.model)
    assert again.status_code == 200, again.text


def assert_error_shape(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert body["error"]
    assert body["detail"]
    assert TEST_API_KEY not in response.text


def sse_events(text: str) -> list[tuple[str, Any]]:
    """(kind, payload) per event: ("data", json), ("error", json), ("done", None); comments
    are left out."""
    events: list[tuple[str, Any]] = []
    for block in text.split("\n\n"):
        kind = "data"
        for line in block.split("\n"):
            if line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data = line.removeprefix("data:").strip()
                events.append(("done", None) if data == "[DONE]" else (kind, json.loads(data)))
    return events
