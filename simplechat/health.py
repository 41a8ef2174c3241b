"""Liveness and database health."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from simplechat.kit.errors import DatabaseUnavailable
from simplechat.kit.http import error_responses

router = APIRouter(tags=["health"])


class HealthResponse(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(examples=["ok"])


async def get_database_ping(request: Request) -> Callable[[], Awaitable[bool]]:
    ping: Callable[[], Awaitable[bool]] = request.state.database_ping
    return ping


DatabasePing = Annotated[Callable[[], Awaitable[bool]], Depends(get_database_ping)]


@router.get(
    "/healthz",
    response_model=HealthResponse,
    summary="Health check",
    response_description="The server and its database answer",
    responses=error_responses(
        503, examples={503: [DatabaseUnavailable()]}, descriptions={503: "The database is down"}
    ),
)
async def healthz(database_ping: DatabasePing) -> HealthResponse:
    """200 when the database answers, 503 otherwise."""
    if not await database_ping():
        raise DatabaseUnavailable("The database is not answering.")
    return HealthResponse(status="ok", database="ok")
