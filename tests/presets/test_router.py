"""Presets through the ASGI app and the real test database: private and public presets, who
may change them, the two built-ins seeded at every start from the settings."""

from typing import Any

import httpx
import pytest

from simplechat.config import DEFAULT_ADVANCED_PROMPT, DEFAULT_SYSTEM_PROMPT, Settings
from tests.factories import app_client, make_admin, sign_up, stored_documents

TUTOR = {
    "name": "Tutor",
    "description": "Asks before it tells",
    "messages": [
        {"role": "system", "content": "Answer with a question.", "visible": False},
        {"role": "assistant", "content": "What shall we learn today?"},
    ],
    "parameters": {"model": "mock", "temperature": 0.2, "top_p": 0.9, "max_tokens": 200},
}


async def items(client: httpx.AsyncClient, headers: dict[str, str], query: str = "") -> Any:
    response = await client.get(f"/presets{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_built_ins_are_public_read_only_and_seeded_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    eric = await sign_up(client, "eric")
    listed = await items(client, eric)
    assert listed["total"] == 2
    plain, caring = listed["items"]
    assert (plain["builtin"], caring["builtin"]) == ("plain", "caring")
    assert plain["public"]
    assert not plain["mine"]
    assert plain["messages"] == []  # the system prompt is invisible to who cannot edit it
    await make_admin(settings, "eric")
    shown = (await client.get(f"/presets/{caring['id']}", headers=eric)).json()
    assert shown["messages"] == [
        {"role": "system", "content": DEFAULT_ADVANCED_PROMPT, "visible": False}
    ]
    for method, body in (("PATCH", {"name": "x"}), ("DELETE", None)):
        response = await client.request(method, f"/presets/{caring['id']}", json=body, headers=eric)
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "preset_read_only"
        assert "SIMPLECHAT_ADVANCED_PROMPT" in response.json()["detail"]


async def test_restarts_refresh_the_built_ins_from_the_settings(settings: Settings) -> None:
    for prompt in (DEFAULT_SYSTEM_PROMPT, "You answer in haiku."):
        values = settings.model_dump() | {"system_prompt": prompt}
        async with app_client(Settings(_env_file=None, **values)):  # type: ignore[call-arg]
            pass
    stored = await stored_documents(settings, "presets")
    assert sorted(d["builtin"] for d in stored) == ["caring", "plain"]
    plain = next(d for d in stored if d["builtin"] == "plain")
    assert plain["messages"][0]["content"] == "You answer in haiku."


async def test_a_private_preset_is_its_owners(client: httpx.AsyncClient) -> None:
    eric = await sign_up(client, "eric")
    mallory = await sign_up(client, "mallory")
    created = await client.post("/presets", json=TUTOR, headers=eric)
    assert created.status_code == 201, created.text
    tutor = created.json()
    assert (tutor["public"], tutor["mine"], tutor["builtin"]) == (False, True, None)
    assert tutor["messages"][0]["visible"] is False  # the owner sees everything
    assert tutor["parameters"] == TUTOR["parameters"]

    assert (await items(client, eric))["total"] == 3
    assert [p["name"] for p in (await items(client, eric))["items"]][-1] == "Tutor"
    assert (await items(client, mallory))["total"] == 2
    for method, body in (("GET", None), ("PATCH", {"name": "mine"}), ("DELETE", None)):
        response = await client.request(
            method, f"/presets/{tutor['id']}", json=body, headers=mallory
        )
        assert response.status_code == 404, (method, response.text)
        assert response.json()["code"] == "preset_not_found"

    changed = await client.patch(
        f"/presets/{tutor['id']}",
        json={"name": "Socratic tutor", "parameters": {"temperature": 1.0}},
        headers=eric,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Socratic tutor"
    assert changed.json()["parameters"] == {
        "model": None,
        "temperature": 1.0,
        "top_p": None,
        "max_tokens": None,
    }
    assert changed.json()["messages"] == tutor["messages"]
    assert changed.json()["updated_at"] >= tutor["updated_at"]
    deleted = await client.delete(f"/presets/{tutor['id']}", headers=eric)
    assert deleted.json() == {"id": tutor["id"], "deleted": True}
    assert (await client.get(f"/presets/{tutor['id']}", headers=eric)).status_code == 404


async def test_public_presets_are_the_admins(client: httpx.AsyncClient, settings: Settings) -> None:
    eric = await sign_up(client, "eric")
    root = await sign_up(client, "root")
    refused = await client.post("/presets", json={**TUTOR, "public": True}, headers=eric)
    assert refused.status_code == 403
    await make_admin(settings, "root")
    public = (await client.post("/presets", json={**TUTOR, "public": True}, headers=root)).json()
    assert public["public"] is True

    seen = (await client.get(f"/presets/{public['id']}", headers=eric)).json()
    assert [m["content"] for m in seen["messages"]] == ["What shall we learn today?"]
    listed = await items(client, eric)
    assert [p["public"] for p in listed["items"]] == [True, True, True]
    for method, body in (("PATCH", {"name": "mine"}), ("DELETE", None)):
        response = await client.request(method, f"/presets/{public['id']}", json=body, headers=eric)
        assert response.status_code == 403, response.text
    renamed = await client.patch(f"/presets/{public['id']}", json={"name": "Tutor 2"}, headers=root)
    assert renamed.json()["name"] == "Tutor 2"
    assert (await client.delete(f"/presets/{public['id']}", headers=root)).status_code == 200


async def test_paging_public_first(client: httpx.AsyncClient) -> None:
    eric = await sign_up(client, "eric")
    for i in range(5):
        await client.post("/presets", json={"name": f"mine {i}"}, headers=eric)
    page = await items(client, eric, "?page=2&page_size=3")
    assert (page["total"], page["page"], page["page_size"]) == (7, 2, 3)
    assert [p["name"] for p in page["items"]] == ["mine 1", "mine 2", "mine 3"]
    first = await items(client, eric, "?page_size=3")  # the two public ones, then mine
    assert [p["builtin"] or p["name"] for p in first["items"]] == ["plain", "caring", "mine 0"]
    last = await items(client, eric, "?page=3&page_size=3")
    assert [p["name"] for p in last["items"]] == ["mine 4"]
    assert (await items(client, eric, "?page=4&page_size=3"))["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "  "},
        {"name": "x", "messages": [{"role": "tool", "content": "x"}]},
        {"name": "x", "messages": [{"role": "user", "content": ""}]},
        {"name": "x", "parameters": {"model": "nope/nope"}},
        {"name": "x", "parameters": {"temperature": 5}},
        {"name": "x", "owner": "someone"},
        {"name": "x", "messages": [{"role": "user", "content": "x"}] * 51},
    ],
)
async def test_bad_presets_are_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    eric = await sign_up(client, "eric")
    response = await client.post("/presets", json=body, headers=eric)
    assert response.status_code == 422, response.text


async def test_presets_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/presets")).status_code == 401
    assert (await client.post("/presets", json={"name": "x"})).status_code == 401
