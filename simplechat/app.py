"""create_app(settings) -> FastAPI: the routers, the error handlers and the middleware.
The lifespan (`lifespan.py`) owns the resources and builds the services (`wiring.py`)."""

from fastapi import FastAPI
from fastapi.routing import APIRoute

from simplechat import __version__, health
from simplechat.accounts import profile_router
from simplechat.accounts import router as accounts_router
from simplechat.accounts.images import AVATAR_MAX_BYTES
from simplechat.admin import router as admin_router
from simplechat.billing import router as billing_router
from simplechat.chat import conversation_router, openai_router
from simplechat.chat import router as chat_router
from simplechat.config import Settings, get_settings
from simplechat.console import router as console_router
from simplechat.embeddings import router as embeddings_router
from simplechat.keys import router as keys_router
from simplechat.kit.docs import install_docs
from simplechat.kit.http import add_error_handlers
from simplechat.kit.iplimit import IpLimiter
from simplechat.kit.middleware import BodySizeLimit
from simplechat.kit.observability import install_observability
from simplechat.lifespan import lifespan
from simplechat.limits import router as limits_router
from simplechat.limits.rules import BURST_LIMIT_CODE, DAILY_LIMIT_CODE
from simplechat.media import openai_router as media_openai_router
from simplechat.media import router as media_router
from simplechat.presets import router as presets_router
from simplechat.reports import router as reports_router
from simplechat.tasks import router as tasks_router

DESCRIPTION = """
A lightweight chat API: create an account, log in, and chat with an LLM.
Use **Authorize** with your username and password, then try the endpoints.
"""
# Room for a multipart envelope around the largest avatar.
AVATAR_BODY_BYTES = AVATAR_MAX_BYTES + 64 * 1024
# The per-user message limits answer with this status (401 by default, as the product's spec
# has it; SIMPLECHAT_RATE_LIMIT_STATUS=429 for clients that expect 429).
MESSAGE_LIMIT_CODES = (DAILY_LIMIT_CODE, BURST_LIMIT_CODE)
# Uploads take files of up to SIMPLECHAT_MEDIA_MAX_BYTES; a multipart body adds its framing.
MULTIPART_ALLOWANCE = 64 * 1024
UPLOAD_PATHS = (
    media_router.SPEECH_PATH,
    media_router.OCR_PATH,
    media_openai_router.TRANSCRIPTIONS_PATH,
)


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
    upload_limit = settings.media_max_bytes + MULTIPART_ALLOWANCE
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        path_limits={
            **dict.fromkeys(UPLOAD_PATHS, upload_limit),
            "/user/me/avatar": max(settings.max_body_bytes, AVATAR_BODY_BYTES),
        },
    )
    app.state.ip_limiter = IpLimiter(settings.ip_limit)
    setattr(app.state, billing_router.REDEEM_IP_LIMITER, IpLimiter(settings.redeem_ip_limit))
    for router in (
        accounts_router.router,
        profile_router.router,
        keys_router.router,
        chat_router.router,
        conversation_router.router,
        tasks_router.router,
        presets_router.router,
        openai_router.router,
        embeddings_router.router,
        limits_router.router,
        media_router.router,
        media_openai_router.router,
        reports_router.router,
        billing_router.router,
        admin_router.router,
        health.router,
        console_router.router,
    ):
        app.include_router(router)
    install_docs(app)
    install_observability(app, settings)  # last: its middleware wraps every other one
    return app
