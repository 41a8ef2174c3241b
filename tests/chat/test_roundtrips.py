"""Database round trips per chat message, counted the way scripts/bench counts them: every
command the app's client sends (a pymongo CommandListener), by command and collection.

Before conversations a message cost 4: the admission (findAndModify users), the message's
insert, the history read and the reply's insert. A conversation adds one update (its totals,
`$inc`), and a conversation longer than the newest-messages read reaches adds the read of its
first messages; a conversation named in the request is read once (its preset, model, owner).
"""

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pymongo import monitoring

from simplechat.config import Settings
from tests.factories import app_client, sign_up


class CommandCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.enabled = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.enabled:
            return
        target = event.command.get(event.command_name)
        if event.command_name == "getMore":
            target = event.command.get("collection")
        self.counts[f"{event.command_name} {target}"] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


_COUNTER = CommandCounter()
monitoring.register(_COUNTER)  # for every client made from now on; counts only when enabled

TODAY = {"findAndModify users": 1, "insert messages": 2, "find messages": 1}
CONVERSATION_INC = {"update conversations": 1}
HEAD_READ = {"find messages": 1}
CONVERSATION_READ = {"find conversations": 1}
MEASURED = 5


def total(*parts: dict[str, int]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for part in parts:
        counts.update(part)
    return dict(counts)


@pytest.fixture
def counter() -> Iterator[CommandCounter]:
    _COUNTER.counts.clear()
    yield _COUNTER
    _COUNTER.enabled = False


async def per_message(
    client: httpx.AsyncClient, counter: CommandCounter, body: dict[str, Any], headers: Any
) -> dict[str, float]:
    counter.counts.clear()
    counter.enabled = True
    for _ in range(MEASURED):
        response = await client.post("/llm/message", json=body, headers=headers)
        assert response.status_code == 200, response.text
    counter.enabled = False
    return {name: n / MEASURED for name, n in counter.counts.items()}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("named", [False, True])
@pytest.mark.parametrize("long", [False, True])
async def test_round_trips_per_message(
    settings: Settings, counter: CommandCounter, stream: bool, named: bool, long: bool
) -> None:
    # A long conversation: more messages than the newest-messages read takes (at most
    # history_max_entries), so its first messages are a read of their own.
    warm_up = 12 if long else 2
    values = settings.model_dump() | {
        "burst_limit": 100,
        "burst_window_seconds": 1,
        "history_max_entries": 8 if long else 100,
    }
    async with app_client(Settings(_env_file=None, **values)) as client:  # type: ignore[call-arg]
        headers = await sign_up(client, "eric")
        body: dict[str, Any] = {"message": "how many round trips is this?", "stream": stream}
        if named:
            created = await client.post("/conversations", json={}, headers=headers)
            body["conversation_id"] = created.json()["id"]
        for _ in range(warm_up):
            await client.post("/llm/message", json=body, headers=headers)

        counts = await per_message(client, counter, body, headers)

    expected = total(
        TODAY,
        CONVERSATION_INC,
        HEAD_READ if long else {},
        CONVERSATION_READ if named else {},
    )
    assert counts == expected
    assert sum(counts.values()) == 5 + long + named
