"""The embedded database: a real child process whose data survives a restart, and that is
started again when it dies."""

import os
import signal
import time
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


def test_a_killed_server_is_started_again_on_the_same_file_and_port(tmp_path: Path) -> None:
    server = EmbeddedMongo(tmp_path).start().supervise()
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(server.uri, serverSelectionTimeoutMS=5000)
        client.simplechat.users.insert_one({"username": "eric"})
        first_pid, port = server.pid, server.port
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while server.restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.restarts == 1
        assert server.pid not in (None, first_pid)
        assert server.port == port
        # the same client, unchanged, reconnects and finds what was written before
        assert client.simplechat.users.find_one({"username": "eric"}) is not None
        client.close()
    finally:
        server.stop()
    assert not server.running


def test_stopping_ends_the_supervision(tmp_path: Path) -> None:
    server = EmbeddedMongo(tmp_path).start().supervise()
    server.stop()
    time.sleep(0.5)  # more than the supervisor's watch interval
    assert not server.running
    assert server.restarts == 0
