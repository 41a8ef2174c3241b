"""Account rules: pure table tests."""

from datetime import UTC, datetime

import pytest

from simplechat.accounts.rules import (
    KNOWN_ADDRESSES,
    address_tag,
    display_name_problem,
    email_problem,
    password_problem,
    prefix_range,
    remembered,
    search_prefix_problem,
    token_hash,
    username_problem,
    wechat_username,
)
from simplechat.accounts.types import User


@pytest.mark.parametrize(
    ("username", "ok"),
    [("eric", True), ("a.b-c_9", True), ("ab", False), ("a" * 33, False), ("bad name", False)],
)
def test_usernames(username: str, ok: bool) -> None:
    assert (username_problem(username) is None) is ok


@pytest.mark.parametrize(
    ("password", "ok"), [("password1", True), ("short", False), ("x" * 1025, False)]
)
def test_passwords(password: str, ok: bool) -> None:
    assert (password_problem(password) is None) is ok


@pytest.mark.parametrize(
    ("email", "ok"),
    [
        ("eric@example.com", True),
        ("e.r+tag@mail.example.org", True),
        ("eric", False),
        ("eric@localhost", False),
        ("a b@example.com", False),
        ("a@@example.com", False),
        ("x" * 250 + "@example.com", False),
    ],
)
def test_emails(email: str, ok: bool) -> None:
    assert (email_problem(email) is None) is ok


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("Eric", True),
        ("流星 用户", True),
        ("", False),
        ("   ", False),
        ("a\nb", False),
        ("x" * 65, False),
    ],
)
def test_display_names(name: str, ok: bool) -> None:
    assert (display_name_problem(name) is None) is ok


@pytest.mark.parametrize(
    ("prefix", "ok"),
    [("e", True), ("er.c", True), ("x" * 32, True), ("x" * 33, False), (".*", False), ("é", False)],
)
def test_search_prefixes_are_username_characters(prefix: str, ok: bool) -> None:
    assert (search_prefix_problem(prefix) is None) is ok


@pytest.mark.parametrize(
    ("prefix", "inside", "outside"),
    [
        ("er", ["er", "eric", "er.c", "erzzz"], ["e", "es", "fr", "dr"]),
        ("a.", ["a.", "a.b"], ["a", "a-", "a/", "ab"]),
        ("z", ["z", "zz"], ["y", "{"]),
    ],
)
def test_prefix_range_holds_exactly_the_strings_that_start_with_it(
    prefix: str, inside: list[str], outside: list[str]
) -> None:
    low, high = prefix_range(prefix)
    assert all(low <= s < high for s in inside)
    assert not any(low <= s < high for s in outside)


def test_token_hash_is_sha256_hex() -> None:
    assert token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_wechat_usernames_are_valid_usernames() -> None:
    name = wechat_username("0123456789abcdef")
    assert name == "wx_0123456789ab"
    assert username_problem(name) is None


@pytest.mark.parametrize(("role", "level"), [("user", 1), ("admin", 2)])
def test_levels(role: str, level: int) -> None:
    user = User(id="x", username="eric", role=role, created_at=datetime.now(UTC))
    assert user.level == level
    assert user.is_admin is (role == "admin")


class TestKnownAddresses:
    def test_a_tag_is_salted_with_the_user(self) -> None:
        assert address_tag("u1", "10.0.0.1") == address_tag("u1", "10.0.0.1")
        assert address_tag("u1", "10.0.0.1") != address_tag("u2", "10.0.0.1")
        assert "10.0.0.1" not in address_tag("u1", "10.0.0.1")

    @pytest.mark.parametrize(
        ("tags", "tag", "expected"),
        [
            ((), "a", ("a",)),
            (("a", "b"), "a", ("b", "a")),  # the newest last, once
            (tuple("abcdefgh"), "z", (*"bcdefgh", "z")),  # at most KNOWN_ADDRESSES
        ],
    )
    def test_the_newest_are_kept(
        self, tags: tuple[str, ...], tag: str, expected: tuple[str, ...]
    ) -> None:
        assert remembered(tags, tag) == expected
        assert len(remembered(tags, tag)) <= KNOWN_ADDRESSES
