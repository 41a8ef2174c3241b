"""Accounts as the rest of the code sees them (no secret fields)."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    role: str
    created_at: datetime
