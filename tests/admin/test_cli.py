"""`simplechat admin create|promote|demote`, run in process with `cli.main([...])`."""

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from simplechat import cli
from simplechat.config import get_settings
from tests.factories import TEST_JWT_SECRET, app_client, log_in


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, mongo_uri: str, database_name: str, tmp_path: Path
) -> Iterator[dict[str, str]]:
    values = {
        "MONGODB_URI": mongo_uri,
        "SIMPLECHAT_MONGODB_DB": database_name,
        "SIMPLECHAT_JWT_SECRET": TEST_JWT_SECRET,
        "SIMPLECHAT_DATA_DIR": str(tmp_path),
    }
    monkeypatch.chdir(tmp_path)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield values
    get_settings.cache_clear()


def run(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(["admin", *argv])


def database(values: dict[str, str]) -> tuple[MongoClient[dict[str, Any]], Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(values["MONGODB_URI"])
    return client, client[values["SIMPLECHAT_MONGODB_DB"]]


def sign_up_through_the_api(username: str) -> None:
    async def go() -> None:
        async with app_client(get_settings()) as client:
            created = await client.post(
                "/user/", json={"username": username, "password": "password123"}
            )
            assert created.status_code == 201

    asyncio.run(go())


def test_there_is_no_admin_until_one_is_created(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sign_up_through_the_api("eric")
    client, db = database(environment)
    try:
        assert db.users.count_documents({"role": "admin"}) == 0
        assert run(monkeypatch, "create", "alice", stdin="alice's long password\n") == 0
        assert "Created admin 'alice' (level 2)" in capsys.readouterr().out
        alice = db.users.find_one({"username": "alice"})
        assert alice is not None
        assert alice["role"] == "admin"
        assert "alice's long password" not in str(alice)
        assert (db.role_counts.find_one({"_id": "admin"}) or {})["n"] == 1
        entry = db.audit_log.find_one({"action": "user.create"})
        assert entry is not None
        assert (entry["actor"], entry["target"], entry["ip"]) == ("(command line)", "alice", None)
    finally:
        client.close()

    async def the_admin_logs_in() -> None:
        async with app_client(get_settings()) as http:
            headers = await log_in(http, "alice", "alice's long password")
            users = await http.get("/admin/users", headers=headers)
            assert users.status_code == 200
            assert users.json()["total"] == 2

    asyncio.run(the_admin_logs_in())


def test_promote_and_demote(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sign_up_through_the_api("eric")
    assert run(monkeypatch, "promote", "eric") == 0
    assert "'eric' is an admin (level 2)" in capsys.readouterr().out
    assert run(monkeypatch, "demote", "eric") == 1  # the only admin
    assert "last admin" in capsys.readouterr().err
    assert run(monkeypatch, "create", "alice", stdin="alice's long password\n") == 0
    assert run(monkeypatch, "demote", "eric") == 0
    assert "'eric' is a normal user (level 1)" in capsys.readouterr().out
    client, db = database(environment)
    try:
        assert [u["username"] for u in db.users.find({"role": "admin"})] == ["alice"]
        actions = [e["action"] for e in db.audit_log.find({}).sort("at", 1)]
        assert actions == ["admin.promote", "user.create", "admin.demote"]
    finally:
        client.close()


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (("create", "alice"), "short\n", "at least 8 characters"),
        (("create", "a b"), "alice's long password\n", "Usernames are"),
        (("promote", "nobody"), "", "No user 'nobody'"),
        (("demote", "nobody"), "", "No user 'nobody'"),
    ],
)
def test_mistakes_exit_1_with_a_message(
    environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    stdin: str,
    message: str,
) -> None:
    assert run(monkeypatch, *argv, stdin=stdin) == 1
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_a_taken_username(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sign_up_through_the_api("eric")
    assert run(monkeypatch, "create", "eric", stdin="another long password\n") == 1
    assert "already taken" in capsys.readouterr().err


def test_the_password_is_asked_twice_on_a_terminal(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(["first try password", "second try password", "same password", "same password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr("sys.stdin", Terminal())
    assert cli.main(["admin", "create", "alice"]) == 1
    assert "do not match" in capsys.readouterr().err
    assert cli.main(["admin", "create", "alice"]) == 0

    async def logs_in() -> None:
        async with app_client(get_settings()) as http:
            assert (await log_in(http, "alice", "same password"))["Authorization"]

    asyncio.run(logs_in())


def test_help_lists_the_admin_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["admin", "--help"])
    out = capsys.readouterr().out
    for command in ("create", "promote", "demote"):
        assert command in out


async def test_no_admin_route_works_without_an_admin(client: httpx.AsyncClient) -> None:
    """A fresh server has no admin and no default password to log in with."""
    for username in ("admin", "root", "administrator"):
        for password in ("admin", "password", "admin123", "changethis"):
            response = await client.post(
                "/token", data={"username": username, "password": password}
            )
            assert response.status_code == 401
