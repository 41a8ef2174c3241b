"""The per-process objects the lifespan builds and every request shares."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from simplechat.config import Settings
from simplechat.providers.registry import ProviderRegistry
from simplechat.services.auth import AuthService
from simplechat.services.chat import ChatService
from simplechat.services.history import HistoryService
from simplechat.services.limits import LimitService
from simplechat.services.report import ReportService


@dataclass
class AppContext:
    settings: Settings
    auth: AuthService
    chat: ChatService
    history: HistoryService
    limits: LimitService
    reports: ReportService
    registry: ProviderRegistry
    database_ping: Callable[[], Awaitable[bool]]
