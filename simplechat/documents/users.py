"""The `users` collection: accounts, with the chat limits' counters in each document."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from simplechat.documents.base import utcnow


class UserRole(StrEnum):
    USER = "user"
    ADMIN = "admin"


class UserDoc(Document):
    username: str
    password_hash: str  # "" for an account that has no password (created by a WeChat login)
    role: UserRole = UserRole.USER
    created_at: datetime = Field(default_factory=utcnow)
    disabled: bool = False
    email: str | None = None
    display_name: str | None = None
    # A WeChat mini-program user's openid (unique among the users that have one).
    wechat_openid: str | None = None
    wechat_unionid: str | None = None
    # Bumped when the password changes, the account is disabled or changes role, or its user
    # logs out everywhere: access and refresh tokens carry the epoch they were issued under
    # and stop working once it moves on (the chat admission's filter names it).
    token_epoch: int = 0
    # Salted hashes of the addresses of the last successful logins (accounts/throttles.py).
    login_tags: list[str] = Field(default_factory=list)
    # When the user last sent a message (epoch ms), written by the limits' admission update.
    active_ms: int | None = None
    # The chat limits' counters, managed by limits/repository.py: {"day", "count", "s0".."sN",
    # "daily", "burst"} ("daily" and "burst" are per-user overrides, -1 for none)
    lim: dict[str, Any] = Field(default_factory=lambda: {"day": "", "count": 0})

    class Settings:
        name = "users"
        indexes = [
            IndexModel([("username", ASCENDING)], unique=True, name="username_unique"),
            IndexModel(
                [("wechat_openid", ASCENDING)],
                unique=True,
                name="wechat_openid_unique",
                # only documents that have one: every other user has none (null)
                partialFilterExpression={"wechat_openid": {"$type": "string"}},
            ),
            IndexModel([("created_at", ASCENDING)], name="created_at"),
            IndexModel([("active_ms", ASCENDING)], name="active_ms"),
            IndexModel([("role", ASCENDING)], name="role"),
        ]
