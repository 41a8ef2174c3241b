"""The per-process objects the lifespan builds and every request shares."""

from dataclasses import dataclass, field
from typing import Any

from simplechat.config import Settings
from simplechat.services.auth import AuthService


@dataclass
class AppContext:
    settings: Settings
    auth: AuthService
    database_ping: Any  # async () -> bool
    extras: dict[str, Any] = field(default_factory=dict)
