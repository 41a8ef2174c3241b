"""Opening the database: one AsyncMongoClient per process, Beanie initialised on it."""

from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from simplechat.documents import DOCUMENT_MODELS
from simplechat.kit.errors import DatabaseUnavailable

RawDoc = dict[str, object]
# What a database outage raises anywhere in storage; the API answers these with 503.
DATABASE_ERRORS: tuple[type[Exception], ...] = (PyMongoError,)


async def open_database(
    uri: str, db_name: str, *, timeout_ms: int
) -> tuple[AsyncMongoClient[RawDoc], AsyncDatabase[RawDoc]]:
    """Connect, check the server answers, and initialise Beanie (creating indexes)."""
    client: AsyncMongoClient[RawDoc] = AsyncMongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,  # a hung server must not hold a request longer than this
        appname="simplechat",
    )
    database = client[db_name]
    try:
        await init_beanie(database=database, document_models=DOCUMENT_MODELS)
    except PyMongoError as exc:
        await client.close()
        raise DatabaseUnavailable(f"The database did not answer: {type(exc).__name__}") from exc
    return client, database


async def ping(database: AsyncDatabase[RawDoc]) -> bool:
    try:
        await database.command("ping")
    except PyMongoError:
        return False
    return True


async def unreachable(uri: str, timeout_ms: int) -> str | None:
    """None when the server at `uri` answers a ping within `timeout_ms`; else why not, in one
    line that names its hosts but not the URI's credentials. ValueError: `uri` is malformed."""
    try:
        client: AsyncMongoClient[RawDoc] = AsyncMongoClient(
            uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
        )
    except (PyMongoError, ValueError) as exc:
        reason = str(exc).split(". ")[0]  # pymongo's reasons name parts, never the password
        raise ValueError(f"MONGODB_URI is not a valid MongoDB URI: {reason}") from None
    try:
        await client.admin.command("ping")
    except PyMongoError as exc:
        servers = client.topology_description.server_descriptions()
        hosts = ", ".join(f"{host}:{port}" for host, port in servers)
        return (
            f"the database at {hosts} did not answer within {timeout_ms} ms ({type(exc).__name__})"
        )
    finally:
        await client.close()
    return None
