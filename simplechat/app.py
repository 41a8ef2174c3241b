"""create_app(settings) -> FastAPI. The lifespan owns every long-lived resource."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial

from fastapi import FastAPI
from fastapi.routing import APIRoute

from simplechat import __version__
from simplechat.api.context import AppContext
from simplechat.api.errors import add_error_handlers
from simplechat.api.middleware import BodySizeLimit
from simplechat.api.routes import auth, health, user
from simplechat.config import Settings, get_settings
from simplechat.services.auth import AuthService
from simplechat.storage.embedded import EmbeddedMongo
from simplechat.storage.mongo import open_database, ping
from simplechat.storage.secret_file import load_or_create_secret
from simplechat.storage.users import UserRepository

log = logging.getLogger("simplechat")

DESCRIPTION = """
A lightweight chat API: create an account, log in, and chat with an LLM.
Use **Authorize** with your username and password, then try the endpoints.
"""


def _operation_id(route: APIRoute) -> str:
    return route.name


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[dict[str, AppContext]]:
    settings: Settings = app.state.settings
    async with AsyncExitStack() as stack:
        if settings.mongodb_uri is None:
            embedded = EmbeddedMongo(settings.data_dir)
            await asyncio.to_thread(embedded.start)
            stack.callback(embedded.stop)
            uri = embedded.uri
            log.info("simplechat.database embedded=yes data_dir=%s", settings.data_dir)
        else:
            uri = settings.mongodb_uri.get_secret_value()
            log.info("simplechat.database embedded=no")
        client, database = await open_database(
            uri, settings.mongodb_db, timeout_ms=settings.mongodb_timeout_ms
        )
        stack.push_async_callback(client.close)
        secret = (
            settings.jwt_secret.get_secret_value()
            if settings.jwt_secret
            else load_or_create_secret(settings.data_dir)
        )
        auth_service = AuthService(
            users=UserRepository(), secret=secret, expire_minutes=settings.jwt_expire_minutes
        )
        context = AppContext(
            settings=settings, auth=auth_service, database_ping=partial(ping, database)
        )
        yield {"context": context}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="simplechat",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    add_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    for module in (auth, user, health):
        app.include_router(module.router)
    return app
