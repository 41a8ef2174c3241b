"""create_app(settings) -> FastAPI: the routers, the error handlers and the middleware.
The lifespan (`lifespan.py`) owns the resources and builds the services (`wiring.py`)."""

from fastapi import FastAPI
from fastapi.routing import APIRoute
from slowapi.errors import RateLimitExceeded

from simplechat import __version__, health
from simplechat.accounts import router as accounts_router
from simplechat.billing import router as billing_router
from simplechat.chat import openai_router
from simplechat.chat import router as chat_router
from simplechat.config import Settings, get_settings
from simplechat.kit.docs import install_docs
from simplechat.kit.http import add_error_handlers
from simplechat.kit.iplimit import make_limiter, on_ip_limit
from simplechat.kit.middleware import BodySizeLimit
from simplechat.kit.observability import install_observability
from simplechat.lifespan import lifespan
from simplechat.limits import router as limits_router
from simplechat.limits.rules import BURST_LIMIT_CODE, DAILY_LIMIT_CODE
from simplechat.reports import router as reports_router

DESCRIPTION = """
A lightweight chat API: create an account, log in, and chat with an LLM.
Use **Authorize** with your username and password, then try the endpoints.
"""
# The per-user message limits answer with this status (401 by default, as the product's spec
# has it; SIMPLECHAT_RATE_LIMIT_STATUS=429 for clients that expect 429).
MESSAGE_LIMIT_CODES = (DAILY_LIMIT_CODE, BURST_LIMIT_CODE)


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="simplechat",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # served offline by install_docs
        redoc_url=None,
    )
    app.state.settings = settings
    add_error_handlers(
        app, status_overrides=dict.fromkeys(MESSAGE_LIMIT_CODES, settings.rate_limit_status)
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    limiter = make_limiter()
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, on_ip_limit)
    app.include_router(accounts_router.build_router(limiter, settings.ip_limit))
    app.include_router(billing_router.build_router(limiter, settings.redeem_ip_limit))
    for router in (
        chat_router.router,
        openai_router.router,
        limits_router.router,
        reports_router.router,
        health.router,
    ):
        app.include_router(router)
    install_docs(app)
    install_observability(app, settings)  # last: its middleware wraps every other one
    return app
