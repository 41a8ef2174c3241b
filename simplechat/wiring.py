"""Builds every service from the settings: the only module that knows them all.

The lifespan opens the resources (database, HTTP session, provider registry, token counter,
media engines) and calls `build_services`; each capability's `dependencies.py` reads its own
service from the lifespan state under the name given here.

Deleting an account must remove what every capability keeps for it, but accounts sit below
the capabilities that own user data and may not import them. So each such capability's
service offers `delete_owner_data(user_id)`, and `build_services` hands them to accounts as
`OwnerDataRemover`s (its `owner_data` list): a capability that stores user data adds its own.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from cryptography.fernet import Fernet

from simplechat.accounts.passwords import Passwords
from simplechat.accounts.removal import AccountRemoval
from simplechat.accounts.repository.avatars import AvatarRepository
from simplechat.accounts.repository.refresh_tokens import RefreshTokenRepository
from simplechat.accounts.repository.roles import RoleRepository
from simplechat.accounts.repository.users import UserRepository
from simplechat.accounts.service import AccountService, UserDirectory
from simplechat.accounts.sessions import Sessions
from simplechat.accounts.throttles import Throttles
from simplechat.accounts.types import OwnerDataRemover
from simplechat.accounts.wechat import WeChatClient
from simplechat.admin.repository import AuditRepository
from simplechat.admin.service import AdminService, AuditLog
from simplechat.billing.balances import Balances
from simplechat.billing.codes import CodeService, RedeemPolicy
from simplechat.billing.repository import CodeRepository, CreditRepository, UsageRepository
from simplechat.billing.rules import to_units
from simplechat.billing.service import BillingPolicy, BillingService
from simplechat.billing.types import AuditRecorder, no_audit
from simplechat.chat.conversations import ConversationService
from simplechat.chat.repository.conversations import ConversationRepository
from simplechat.chat.repository.messages import MessageRepository
from simplechat.chat.service import ChatService
from simplechat.chat.types import Persona
from simplechat.config import Settings
from simplechat.embeddings.service import EmbeddingService
from simplechat.keys.repository import ApiKeyRepository, ProviderKeyRepository
from simplechat.keys.service import KeyService, ProviderKeyService
from simplechat.keys.types import ByokMode
from simplechat.kit.executors import BoundedExecutor
from simplechat.limits.repository import LimitRepository
from simplechat.limits.rules import LimitPolicy
from simplechat.limits.service import LimitService
from simplechat.llm.media_engines import MediaEngines
from simplechat.llm.registry import ProviderRegistry
from simplechat.llm.tokens import TokenCounter, decode_tokens
from simplechat.media.quota import DailyQuota
from simplechat.media.repository import MediaRepository
from simplechat.media.rules import QuotaPolicy
from simplechat.media.service import MediaLimits, MediaService
from simplechat.presets.repository import PresetRepository
from simplechat.presets.rules import builtin_presets
from simplechat.presets.service import PresetService
from simplechat.reports.repository import ReportRepository
from simplechat.reports.service import ReportService
from simplechat.tasks.repository import TaskRepository
from simplechat.tasks.service import TaskService
from simplechat.tasks.types import TaskPolicy


@dataclass(frozen=True, slots=True)
class Services:
    """The lifespan state: one entry per service (its field name is its state key)."""

    accounts: AccountService
    api_keys: KeyService  # also the accounts' KeyResolver (accounts/dependencies.py)
    provider_keys: ProviderKeyService
    billing: BillingService
    redeem_codes: CodeService
    chat: ChatService
    embeddings: EmbeddingService
    tasks: TaskService
    conversations: ConversationService
    presets: PresetService
    limits: LimitService
    media: MediaService
    reports: ReportService
    admin: AdminService
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
    secrets_key: str,
    database_ping: Callable[[], Awaitable[bool]],
    http: aiohttp.ClientSession,
    decoder: BoundedExecutor | None = None,
) -> Services:
    # Image and audio decoding on threads of its own (kit/executors.py): avatars and media.
    decoder = decoder or BoundedExecutor(
        workers=settings.decode_workers, queue=settings.decode_queue
    )
    limits = LimitService(
        repo=LimitRepository(),
        policy=LimitPolicy(
            daily=settings.daily_limit,
            burst=settings.burst_limit,
            burst_window_seconds=settings.burst_window_seconds,
            timezone=settings.zone,
        ),
    )
    # Billing's admin actions go to the admin area's audit log, which billing cannot import.
    audit = AuditLog(AuditRepository())
    billing, redeem_codes = build_billing(settings, audit.record_billing)
    # Keys' max_credits are billing budgets (keys and billing are siblings: handed over here).
    api_keys = KeyService(repo=ApiKeyRepository(), tz=settings.zone, budgets=billing.budgets)
    provider_keys = ProviderKeyService(
        repo=ProviderKeyRepository(), cipher=Fernet(secrets_key), mode=ByokMode(settings.byok)
    )
    messages, conversation_repo = MessageRepository(), ConversationRepository()
    presets = PresetService(
        repo=PresetRepository(),
        registry=registry,
        builtins=builtin_presets(settings.system_prompt, settings.advanced_prompt),
    )
    tasks = TaskService(repo=TaskRepository(), policy=task_policy(settings))
    chat = ChatService(
        messages=messages,
        conversations=conversation_repo,
        limits=limits,
        keys=api_keys,
        provider_keys=provider_keys,
        billing=billing,
        tasks=tasks,  # chat registers its kind of task (its on_abandoned hook) there
        registry=registry,
        counter=counter,
        prompts={Persona.PLAIN: settings.system_prompt, Persona.ADVANCED: settings.advanced_prompt},
        safety_margin=settings.context_safety_margin,
        history_max_messages=settings.history_max_entries,
        stream_first_chunk_wait=settings.stream_first_chunk_wait_seconds,
        stream_keepalive=settings.stream_keepalive_seconds,
    )
    embeddings = EmbeddingService(
        registry=registry,
        limits=limits,
        keys=api_keys,
        provider_keys=provider_keys,
        counter=counter,
        decode=decode_tokens,
        drop_unsupported=settings.drop_unsupported_params,
    )
    conversations = ConversationService(
        conversations=conversation_repo, messages=messages, presets=presets, registry=registry
    )
    media = build_media_service(
        settings,
        media_engines,
        billing=billing,
        keys=api_keys,
        provider_keys=provider_keys,
        decoder=decoder,
    )
    reports = ReportService(repo=ReportRepository(), tz=settings.zone, media=media)
    owner_data: list[OwnerDataRemover] = [
        conversations.delete_owner_data,
        presets.delete_owner_data,
        media.delete_owner_data,
        limits.delete_owner_data,
        api_keys.delete_owner_data,
        provider_keys.delete_owner_data,
        billing.delete_owner_data,
        tasks.delete_owner_data,
    ]
    accounts, directory = _accounts(
        settings,
        jwt_secret,
        http,
        owner_data,
        decoder=decoder,
        revoke_keys=api_keys.delete_owner_data,  # the password change's `revoke_keys`
    )
    admin = AdminService(
        directory=directory,
        limits=limits,
        reports=reports,
        media=media,
        audit=audit,
        keys=api_keys,
    )
    return Services(
        accounts=accounts,
        api_keys=api_keys,
        provider_keys=provider_keys,
        billing=billing,
        redeem_codes=redeem_codes,
        chat=chat,
        embeddings=embeddings,
        tasks=tasks,
        conversations=conversations,
        presets=presets,
        limits=limits,
        media=media,
        reports=reports,
        admin=admin,
        database_ping=database_ping,
    )


def task_policy(settings: Settings) -> TaskPolicy:
    return TaskPolicy(
        lease_seconds=settings.task_lease_seconds,
        flush_seconds=settings.task_flush_seconds,
        flush_tokens=settings.task_flush_tokens,
        max_running=settings.task_max_running,
        keep_seconds=int(settings.task_keep_hours * 3600),
        stream_max_seconds=settings.task_stream_max_seconds,
        keepalive_seconds=settings.stream_keepalive_seconds,
    )


def build_media_service(
    settings: Settings,
    engines: MediaEngines,
    *,
    billing: BillingService,
    keys: KeyService,
    provider_keys: ProviderKeyService,
    decoder: BoundedExecutor | None = None,
) -> MediaService:
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
        billing=billing,
        keys=keys,
        provider_keys=provider_keys,
        decoder=decoder,
    )


def _accounts(
    settings: Settings,
    jwt_secret: str,
    http: aiohttp.ClientSession,
    owner_data: list[OwnerDataRemover],
    *,
    decoder: BoundedExecutor,
    revoke_keys: OwnerDataRemover,
) -> tuple[AccountService, UserDirectory]:
    users, roles, avatars = UserRepository(), RoleRepository(), AvatarRepository()
    passwords = Passwords(concurrency=settings.password_hash_concurrency)
    sessions = Sessions(
        refresh_tokens=RefreshTokenRepository(),
        secret=jwt_secret,
        access_minutes=settings.jwt_expire_minutes,
        refresh_days=settings.refresh_token_days,
    )
    removal = AccountRemoval(
        users=users, roles=roles, sessions=sessions, avatars=avatars, owner_data=owner_data
    )
    wechat = None
    if settings.wechat_app_id and settings.wechat_app_secret:
        wechat = WeChatClient(
            session=http,
            app_id=settings.wechat_app_id,
            app_secret=settings.wechat_app_secret.get_secret_value(),
            base_url=settings.wechat_base_url,
        )
    accounts = AccountService(
        users=users,
        sessions=sessions,
        passwords=passwords,
        avatars=avatars,
        removal=removal,
        wechat=wechat,
        throttles=Throttles.of(
            login=settings.login_account_limit,
            password=settings.password_check_limit,
            avatar=settings.avatar_upload_limit,
        ),
        decoder=decoder,
        revoke_keys=revoke_keys,
    )
    directory = UserDirectory(
        users=users, roles=roles, sessions=sessions, passwords=passwords, removal=removal
    )
    return accounts, directory


def build_billing(
    settings: Settings, audit: AuditRecorder = no_audit
) -> tuple[BillingService, CodeService]:
    credits, codes = CreditRepository(), CodeRepository()
    balances = Balances(
        credits=credits, codes=codes, signup_units=to_units(settings.signup_credits)
    )
    billing = BillingService(
        balances=balances,
        credits=credits,
        codes=codes,
        usage=UsageRepository(),
        policy=BillingPolicy(
            enabled=settings.credits,
            hold_timeout_seconds=settings.hold_timeout_seconds,
            timezone=settings.zone,
        ),
        audit=audit,
    )
    redeem = RedeemPolicy(
        enabled=settings.credits,
        attempts=settings.redeem_attempts,
        window_seconds=settings.redeem_window_seconds,
    )
    codes_service = CodeService(
        codes=codes, credits=credits, balances=balances, policy=redeem, audit=audit
    )
    return billing, codes_service
