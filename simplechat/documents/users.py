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
    password_hash: str
    role: UserRole = UserRole.USER
    created_at: datetime = Field(default_factory=utcnow)
    disabled: bool = False
    # The chat limits' counters, managed by limits/repository.py: {"day", "count", "s0".."sN"}
    lim: dict[str, Any] = Field(default_factory=lambda: {"day": "", "count": 0})

    class Settings:
        name = "users"
        indexes = [IndexModel([("username", ASCENDING)], unique=True, name="username_unique")]
