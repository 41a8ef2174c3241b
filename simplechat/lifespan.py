"""The lifespan owns every long-lived resource: the database (MONGODB_URI, or the embedded
server), the outbound HTTP session, the provider registry, the token counter, the speech and
picture engines, the tasks' sweeper and the billing sweeper task; at shutdown the tasks this
worker still runs are stopped first. It builds the services
(`wiring`), seeds the built-in presets and hands the services to requests as the lifespan
state.

`running_services` is the same without FastAPI, for the command line (`simplechat admin`)."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from functools import partial

from fastapi import FastAPI

from simplechat.config import Settings
from simplechat.kit.db import open_database, ping
from simplechat.kit.embedded import attach_or_start, stop_started
from simplechat.kit.executors import BoundedExecutor
from simplechat.kit.secrets import load_or_create_fernet_key, load_or_create_secret
from simplechat.llm.media_engines import build_media_engines
from simplechat.llm.registry import build_registry, make_http_session
from simplechat.llm.tokens import default_counter
from simplechat.wiring import Services, build_services

log = logging.getLogger("simplechat")


def _database_uri(stack: AsyncExitStack, settings: Settings, *, attach_running: bool) -> str:
    """MONGODB_URI, or the embedded server (stopped with the stack if started here)."""
    if settings.mongodb_uri is not None:
        log.info("simplechat.database embedded=no")
        return settings.mongodb_uri.get_secret_value()
    # on the main thread: see EmbeddedMongo
    uri, started = attach_or_start(settings.data_dir, attach_running=attach_running)
    if started is not None:
        stack.callback(stop_started, started)
    log.info("simplechat.database embedded=yes data_dir=%s", settings.data_dir)
    return uri


@asynccontextmanager
async def running_services(
    settings: Settings, *, attach_running: bool = False
) -> AsyncIterator[Services]:
    """Open every resource, build the services, and close it all afterwards.

    `attach_running`: use the embedded database a running `simplechat serve` started on the
    same data directory (the command line does, while the server runs)."""
    async with AsyncExitStack() as stack:
        client, database = await open_database(
            _database_uri(stack, settings, attach_running=attach_running),
            settings.mongodb_db,
            timeout_ms=settings.mongodb_timeout_ms,
        )
        stack.push_async_callback(client.close)
        secret = (
            settings.jwt_secret.get_secret_value()
            if settings.jwt_secret
            else load_or_create_secret(settings.data_dir)
        )
        secrets_key = (
            settings.secrets_key.get_secret_value()
            if settings.secrets_key
            else load_or_create_fernet_key(settings.data_dir)
        )
        http = make_http_session(settings)
        stack.push_async_callback(http.close)
        registry = build_registry(settings, http)
        stack.push_async_callback(registry.aclose)
        if registry.using_mock:
            log.warning(
                "simplechat.mock_provider no provider is configured: the built-in MOCK model "
                "answers every message (set OPENROUTER_API_KEY, DASHSCOPE_API_KEY or "
                "SIMPLECHAT_OPENAI_BASE_URL)"
            )
        counter = await asyncio.to_thread(default_counter)
        media_engines = build_media_engines(settings, http)
        stack.push_async_callback(media_engines.aclose)
        decoder = BoundedExecutor(workers=settings.decode_workers, queue=settings.decode_queue)
        stack.callback(decoder.shutdown)
        yield build_services(
            settings,
            registry=registry,
            counter=counter,
            media_engines=media_engines,
            jwt_secret=secret,
            secrets_key=secrets_key,
            database_ping=partial(ping, database),
            http=http,
            decoder=decoder,
        )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
    settings: Settings = app.state.settings
    async with running_services(settings) as services, AsyncExitStack() as stack:
        await services.presets.seed_builtins()
        # Always: API keys' max_credits hold credits with SIMPLECHAT_CREDITS off too.
        sweeper = asyncio.create_task(
            services.billing.run_sweeper(settings.billing_sweep_seconds),
            name="billing-sweeper",
        )
        stack.push_async_callback(_stop, sweeper)
        task_sweeper = asyncio.create_task(services.tasks.run_sweeper(), name="task-sweeper")
        stack.push_async_callback(_stop, task_sweeper)
        # Last in, first out: the tasks still running stop (their replies stored as cut, as
        # when a client leaves) before the sweepers and the database.
        stack.push_async_callback(services.tasks.stop)
        yield services.state()


async def _stop(task: "asyncio.Task[None]") -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
