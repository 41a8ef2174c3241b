"""create_app(settings) -> FastAPI. The lifespan owns every long-lived resource."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial

from fastapi import FastAPI
from fastapi.routing import APIRoute
from slowapi.errors import RateLimitExceeded

from simplechat import __version__
from simplechat.api.context import AppContext
from simplechat.api.docs import install_docs
from simplechat.api.errors import add_error_handlers
from simplechat.api.iplimit import make_limiter, on_ip_limit
from simplechat.api.middleware import BodySizeLimit
from simplechat.api.observability import install_observability
from simplechat.api.routes import auth, health, llm, openai, user
from simplechat.config import Settings, get_settings
from simplechat.domain.ratelimit import LimitPolicy
from simplechat.domain.tokens import TokenCounter, default_counter
from simplechat.providers.registry import ProviderRegistry, build_registry, make_http_session
from simplechat.services.auth import AuthService
from simplechat.services.chat import ChatService, Persona
from simplechat.services.history import HistoryService
from simplechat.services.limits import LimitService
from simplechat.services.report import ReportService
from simplechat.storage.embedded import EmbeddedMongo
from simplechat.storage.limits import LimitRepository
from simplechat.storage.messages import MessageRepository
from simplechat.storage.mongo import open_database, ping
from simplechat.storage.reports import ReportRepository
from simplechat.storage.secret_file import load_or_create_secret
from simplechat.storage.users import UserRepository

log = logging.getLogger("simplechat")

DESCRIPTION = """
A lightweight chat API: create an account, log in, and chat with an LLM.
Use **Authorize** with your username and password, then try the endpoints.
"""


def _operation_id(route: APIRoute) -> str:
    return route.name


def _database_uri(stack: AsyncExitStack, settings: Settings) -> str:
    """MONGODB_URI, or the embedded server (started here, stopped with the stack)."""
    if settings.mongodb_uri is not None:
        log.info("simplechat.database embedded=no")
        return settings.mongodb_uri.get_secret_value()
    embedded = EmbeddedMongo(settings.data_dir)
    embedded.start()  # blocks startup briefly; must run on the main thread
    stack.callback(embedded.stop)
    log.info("simplechat.database embedded=yes data_dir=%s", settings.data_dir)
    return embedded.uri


def _services(
    settings: Settings, registry: ProviderRegistry, counter: TokenCounter, secret: str
) -> tuple[AuthService, ChatService, HistoryService, LimitService, ReportService]:
    """The services, wired to their repositories (plain objects: Beanie is initialised)."""
    limits = LimitService(
        repo=LimitRepository(),
        policy=LimitPolicy(
            daily=settings.daily_limit,
            burst=settings.burst_limit,
            burst_window_seconds=settings.burst_window_seconds,
            timezone=settings.zone,
        ),
        status_code=settings.rate_limit_status,
    )
    messages = MessageRepository()
    chat = ChatService(
        messages=messages,
        limits=limits,
        registry=registry,
        counter=counter,
        prompts={Persona.PLAIN: settings.system_prompt, Persona.ADVANCED: settings.advanced_prompt},
        safety_margin=settings.context_safety_margin,
        history_max_messages=settings.history_max_entries,
    )
    auth_service = AuthService(
        users=UserRepository(), secret=secret, expire_minutes=settings.jwt_expire_minutes
    )
    history = HistoryService(messages=messages, max_entries=settings.history_max_entries)
    reports = ReportService(repo=ReportRepository(), tz=settings.zone)
    return auth_service, chat, history, limits, reports


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[dict[str, AppContext]]:
    settings: Settings = app.state.settings
    async with AsyncExitStack() as stack:
        client, database = await open_database(
            _database_uri(stack, settings),
            settings.mongodb_db,
            timeout_ms=settings.mongodb_timeout_ms,
        )
        stack.push_async_callback(client.close)
        secret = (
            settings.jwt_secret.get_secret_value()
            if settings.jwt_secret
            else load_or_create_secret(settings.data_dir)
        )
        http = make_http_session(settings)
        stack.push_async_callback(http.close)
        registry = build_registry(settings, http)
        stack.push_async_callback(registry.aclose)
        if registry.using_mock:
            log.warning(
                "simplechat.mock_provider no provider key is configured: the built-in MOCK "
                "model answers every message (set OPENROUTER_API_KEY or DASHSCOPE_API_KEY)"
            )
        counter = await asyncio.to_thread(default_counter)
        auth_service, chat, history, limits, reports = _services(
            settings, registry, counter, secret
        )
        yield {
            "context": AppContext(
                settings=settings,
                auth=auth_service,
                chat=chat,
                history=history,
                limits=limits,
                reports=reports,
                registry=registry,
                database_ping=partial(ping, database),
            )
        }


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="simplechat",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # served offline by install_docs
        redoc_url=None,
    )
    app.state.settings = settings
    add_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    limiter = make_limiter()
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, on_ip_limit)
    app.include_router(auth.build_router(limiter, settings.ip_limit))
    for module in (llm, openai, user, health):
        app.include_router(module.router)
    install_docs(app)
    install_observability(app, settings)  # last: its middleware wraps every other one
    return app
