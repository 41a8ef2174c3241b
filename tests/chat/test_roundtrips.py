"""Database round trips per chat message, counted the way scripts/bench counts them: every
command the app's client sends (a pymongo CommandListener), by command and collection.

Before conversations a message cost 4: the admission (findAndModify users), the message's
insert, the history read and the reply's insert. A conversation adds one update (its totals,
`$inc`), and a conversation longer than the newest-messages read reaches adds the read of its
first messages; a conversation named in the request is read once (its preset, model, owner).
Billing adds the turn's usage record (`GET /user/usage`), inserted alongside the reply; with
credits off or a free model nothing is held, so that is all it adds. With credits on and a
priced model the hold and its settlement add six (see `test_round_trips_with_credits`).
"""

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simplechat.config import Settings
from tests.factories import COMMANDS, CommandCounter, app_client, sign_up

_COUNTER = COMMANDS

TODAY = {"findAndModify users": 1, "insert messages": 2, "find messages": 1}
CONVERSATION_INC = {"update conversations": 1}
USAGE_RECORD = {"insert usage_records": 1}  # alongside the reply's insert: no added wait
# The hold: its document, then the reservation; the settlement: the conditional update that
# charges and releases (journaling the ledger entry), then side by side the hold's removal and
# the ledger entry's insert, followed by its removal from the journal.
CREDITS = {
    "insert holds": 1,
    "findAndModify credit_accounts": 2,
    "delete holds": 1,
    "insert ledger": 1,
    "update credit_accounts": 1,
}
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
        USAGE_RECORD,
        HEAD_READ if long else {},
        CONVERSATION_READ if named else {},
    )
    assert counts == expected
    assert sum(counts.values()) == 6 + long + named


PRICED_MOCK = """
[[models]]
name = "mock"
price = { input = "1", output = "2" }
"""


@pytest.mark.parametrize("stream", [False, True])
async def test_round_trips_with_credits(
    settings: Settings, counter: CommandCounter, stream: bool, tmp_path: Path
) -> None:
    models = tmp_path / "models.toml"
    models.write_text(PRICED_MOCK, encoding="utf-8")
    values = settings.model_dump() | {
        "burst_limit": 100,
        "burst_window_seconds": 1,
        "credits": True,
        "signup_credits": "1000",
        "models_file": models,
        "default_model": "mock",
    }
    async with app_client(Settings(_env_file=None, **values)) as client:  # type: ignore[call-arg]
        headers = await sign_up(client, "eric")
        body: dict[str, Any] = {"message": "how many round trips is this?", "stream": stream}
        for _ in range(2):  # the credit account opens on the first message
            await client.post("/llm/message", json=body, headers=headers)

        counts = await per_message(client, counter, body, headers)

    assert counts == total(TODAY, CONVERSATION_INC, USAGE_RECORD, CREDITS)
    assert sum(counts.values()) == 12


# A personal API key: its lookup (which records its last use) and its daily count, both
# find-and-modify before admission.
API_KEY = {"findAndModify api_keys": 2}


@pytest.mark.parametrize("credits", [False, True])
async def test_round_trips_with_a_capped_api_key(
    settings: Settings, counter: CommandCounter, credits: bool, tmp_path: Path
) -> None:
    """A key with max_credits holds on its budget as the user's credits do: the same six
    commands, the hold side by side with the user's (no added step with credits on)."""
    models = tmp_path / "models.toml"
    models.write_text(PRICED_MOCK, encoding="utf-8")
    values = settings.model_dump() | {
        "burst_limit": 100,
        "burst_window_seconds": 1,
        "credits": credits,
        "signup_credits": "1000",
        "models_file": models,
        "default_model": "mock",
    }
    async with app_client(Settings(_env_file=None, **values)) as client:  # type: ignore[call-arg]
        headers = await sign_up(client, "eric")
        created = await client.post(
            "/user/keys", json={"name": "sdk", "max_credits": 10**9}, headers=headers
        )
        key = {"Authorization": f"Bearer {created.json()['key']}"}
        body: dict[str, Any] = {"message": "how many round trips is this?"}
        for _ in range(2):
            await client.post("/llm/message", json=body, headers=key)

        counts = await per_message(client, counter, body, key)

    budget = CREDITS
    user = CREDITS if credits else {}
    assert counts == total(TODAY, CONVERSATION_INC, USAGE_RECORD, API_KEY, budget, user)
    assert sum(counts.values()) == 6 + 2 + 6 + (6 if credits else 0)
