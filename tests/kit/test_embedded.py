"""The embedded database: a real child process whose data survives a restart."""

from pathlib import Path
from typing import Any

from pymongo import MongoClient

from simplechat.kit.embedded import EmbeddedMongo


def test_data_survives_restart(tmp_path: Path) -> None:
    with EmbeddedMongo(tmp_path) as server:
        client: MongoClient[dict[str, Any]] = MongoClient(server.uri)
        client.simplechat.users.insert_one({"username": "eric"})
        client.close()
    assert not server.running
    with EmbeddedMongo(tmp_path) as server:
        client = MongoClient(server.uri)
        assert client.simplechat.users.find_one({"username": "eric"}) is not None
        client.close()
