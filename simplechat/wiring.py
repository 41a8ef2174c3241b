"""Builds every service from the settings: the only module that knows them all.

The lifespan opens the resources (database, HTTP session, provider registry, token counter)
and calls `build_services`; each capability's `dependencies.py` reads its own service from
the lifespan state under the name given here.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from simplechat.accounts.repository import UserRepository
from simplechat.accounts.service import AccountService
from simplechat.chat.conversations import ConversationService
from simplechat.chat.repository.conversations import ConversationRepository
from simplechat.chat.repository.messages import MessageRepository
from simplechat.chat.service import ChatService
from simplechat.chat.types import Persona
from simplechat.config import Settings
from simplechat.limits.repository import LimitRepository
from simplechat.limits.rules import LimitPolicy
from simplechat.limits.service import LimitService
from simplechat.llm.media_engines import MediaEngines
from simplechat.llm.registry import ProviderRegistry
from simplechat.llm.tokens import TokenCounter
from simplechat.media.quota import DailyQuota
from simplechat.media.repository import MediaRepository
from simplechat.media.rules import QuotaPolicy
from simplechat.media.service import MediaLimits, MediaService
from simplechat.presets.repository import PresetRepository
from simplechat.presets.rules import builtin_presets
from simplechat.presets.service import PresetService
from simplechat.reports.repository import ReportRepository
from simplechat.reports.service import ReportService


@dataclass(frozen=True, slots=True)
class Services:
    """The lifespan state: one entry per service (its field name is its state key)."""

    accounts: AccountService
    chat: ChatService
    conversations: ConversationService
    presets: PresetService
    limits: LimitService
    media: MediaService
    reports: ReportService
    database_ping: Callable[[], Awaitable[bool]]

    def state(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def build_services(
    settings: Settings,
    *,
    registry: ProviderRegistry,
    counter: TokenCounter,
    media_engines: MediaEngines,
    jwt_secret: str,
    database_ping: Callable[[], Awaitable[bool]],
) -> Services:
    limits = LimitService(
        repo=LimitRepository(),
        policy=LimitPolicy(
            daily=settings.daily_limit,
            burst=settings.burst_limit,
            burst_window_seconds=settings.burst_window_seconds,
            timezone=settings.zone,
        ),
    )
    messages, conversation_repo = MessageRepository(), ConversationRepository()
    presets = PresetService(
        repo=PresetRepository(),
        registry=registry,
        builtins=builtin_presets(settings.system_prompt, settings.advanced_prompt),
    )
    chat = ChatService(
        messages=messages,
        conversations=conversation_repo,
        limits=limits,
        registry=registry,
        counter=counter,
        prompts={Persona.PLAIN: settings.system_prompt, Persona.ADVANCED: settings.advanced_prompt},
        safety_margin=settings.context_safety_margin,
        history_max_messages=settings.history_max_entries,
        stream_first_chunk_wait=settings.stream_first_chunk_wait_seconds,
        stream_keepalive=settings.stream_keepalive_seconds,
    )
    accounts = AccountService(
        users=UserRepository(), secret=jwt_secret, expire_minutes=settings.jwt_expire_minutes
    )
    conversations = ConversationService(
        conversations=conversation_repo, messages=messages, presets=presets, registry=registry
    )
    media = build_media_service(settings, media_engines)
    reports = ReportService(repo=ReportRepository(), tz=settings.zone, media=media)
    return Services(
        accounts=accounts,
        chat=chat,
        conversations=conversations,
        presets=presets,
        limits=limits,
        media=media,
        reports=reports,
        database_ping=database_ping,
    )


def build_media_service(settings: Settings, engines: MediaEngines) -> MediaService:
    repo = MediaRepository()
    policy = QuotaPolicy(
        speech_seconds=settings.daily_speech_seconds,
        pictures=settings.daily_pictures,
        timezone=settings.zone,
    )
    return MediaService(
        repo=repo,
        engines=engines,
        quota=DailyQuota(repo=repo, policy=policy),
        limits=MediaLimits(
            max_bytes=settings.media_max_bytes,
            max_seconds=settings.media_max_seconds,
            max_pixels=settings.media_max_pixels,
        ),
    )
