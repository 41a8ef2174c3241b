"""Builds every service from the settings: the only module that knows them all.

The lifespan opens the resources (database, HTTP session, provider registry, token counter)
and calls `build_services`; each capability's `dependencies.py` reads its own service from
the lifespan state under the name given here.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from simplechat.accounts.repository import UserRepository
from simplechat.accounts.service import AccountService
from simplechat.billing.balances import Balances
from simplechat.billing.codes import CodeService, RedeemPolicy
from simplechat.billing.repository import CodeRepository, CreditRepository, UsageRepository
from simplechat.billing.rules import to_units
from simplechat.billing.service import BillingPolicy, BillingService
from simplechat.chat.repository import MessageRepository
from simplechat.chat.service import ChatService
from simplechat.chat.types import Persona
from simplechat.config import Settings
from simplechat.limits.repository import LimitRepository
from simplechat.limits.rules import LimitPolicy
from simplechat.limits.service import LimitService
from simplechat.llm.registry import ProviderRegistry
from simplechat.llm.tokens import TokenCounter
from simplechat.reports.repository import ReportRepository
from simplechat.reports.service import ReportService


@dataclass(frozen=True, slots=True)
class Services:
    """The lifespan state: one entry per service (its field name is its state key)."""

    accounts: AccountService
    billing: BillingService
    redeem_codes: CodeService
    chat: ChatService
    limits: LimitService
    reports: ReportService
    database_ping: Callable[[], Awaitable[bool]]

    def state(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def build_services(
    settings: Settings,
    *,
    registry: ProviderRegistry,
    counter: TokenCounter,
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
    chat = ChatService(
        messages=MessageRepository(),
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
    reports = ReportService(repo=ReportRepository(), tz=settings.zone)
    billing, redeem_codes = build_billing(settings)
    return Services(
        accounts=accounts,
        billing=billing,
        redeem_codes=redeem_codes,
        chat=chat,
        limits=limits,
        reports=reports,
        database_ping=database_ping,
    )


def build_billing(settings: Settings) -> tuple[BillingService, CodeService]:
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
    )
    redeem = RedeemPolicy(
        enabled=settings.credits,
        attempts=settings.redeem_attempts,
        window_seconds=settings.redeem_window_seconds,
    )
    codes_service = CodeService(codes=codes, credits=credits, balances=balances, policy=redeem)
    return billing, codes_service
