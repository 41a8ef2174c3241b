"""The task routes in one process (the app behind an ASGI client, the mock provider): create a
task in a conversation, stream it once, read it, list, cancel; errors as JSON."""

import json

import httpx

from simplechat.config import Settings
from tests.factories import new_conversation, parse_sse, stored_documents, wait_finished


async def test_a_task_is_answered_streamed_once_and_stored(
    client: httpx.AsyncClient, auth_headers: dict[str, str], settings: Settings
) -> None:
    conversation = await new_conversation(client, auth_headers)
    created = await client.post(
        f"/conversations/{conversation}/tasks", json={"message": "hi there"}, headers=auth_headers
    )
    assert created.status_code == 202, created.text
    body = created.json()
    assert set(body) == {"task_id", "status", "stream_token"}
    assert body["status"] == "queued"
    task_id = body["task_id"]

    streamed = await client.get(f"/tasks/{task_id}/stream", headers=auth_headers)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(streamed.text)
    assert all("id" in event for event in events)
    deltas = [e["data"]["content"] for e in events[:-2]]
    final, done = events[-2], events[-1]
    assert done["data"] == "[DONE]"
    assert final["data"]["finish_reason"] == "stop"
    assert final["data"]["usage"]["completion_tokens"] > 0
    assert [int(e["id"]) for e in events[:-1]] == list(range(1, len(events)))

    again = await client.get(f"/tasks/{task_id}/stream", headers=auth_headers)
    assert again.status_code == 409
    assert again.json()["code"] == "stream_already_claimed"

    task = await wait_finished(client, auth_headers, task_id)
    assert task["status"] == "done"
    assert task["text"] == "".join(deltas)
    assert task["usage"]["completion_tokens"] == final["data"]["usage"]["completion_tokens"]
    assert task["stream_claimed"] is True

    messages = (
        await client.get(f"/conversations/{conversation}/messages", headers=auth_headers)
    ).json()["items"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"] == task["text"]
    stored = await stored_documents(settings, "tasks")
    assert "stream_token" not in json.dumps(stored, default=str)
    assert body["stream_token"] not in json.dumps(stored, default=str)


async def test_missing_foreign_and_malformed_requests_are_json_errors(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    conversation = await new_conversation(client, auth_headers)
    created = (
        await client.post(
            f"/conversations/{conversation}/tasks", json={"message": "hi"}, headers=auth_headers
        )
    ).json()
    task_id = created["task_id"]
    bad_id = await client.get(
        f"/tasks/{task_id}/stream", headers={**auth_headers, "Last-Event-ID": "soon"}
    )
    assert bad_id.status_code == 422
    assert bad_id.json()["code"] == "invalid_input"
    for method, path in (
        ("GET", "/tasks/nope"),
        ("GET", "/tasks/nope/stream"),
        ("POST", "/tasks/nope/cancel"),
    ):
        missing = await client.request(method, path, headers=auth_headers)
        assert missing.status_code == 404, path
        assert missing.json()["code"] == "task_not_found"
    assert (await client.get(f"/tasks/{task_id}")).status_code == 401
    listed = (await client.get("/tasks?page_size=5", headers=auth_headers)).json()
    assert (listed["total"], listed["page_size"], listed["items"][0]["id"]) == (1, 5, task_id)
    assert (await client.get("/tasks?page_size=500", headers=auth_headers)).status_code == 422
    task = await wait_finished(client, auth_headers, task_id)
    assert task["finished_at"] is not None
    assert task["stream_claimed"] is False  # the 422 claimed nothing
