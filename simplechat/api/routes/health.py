"""Liveness and database health."""

from fastapi import APIRouter

from simplechat.api.deps import ContextDep
from simplechat.api.schemas import HealthResponse, error_responses
from simplechat.errors import DatabaseUnavailable

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=HealthResponse,
    summary="Health check",
    response_description="The server and its database answer",
    responses=error_responses(
        503, codes={503: ("database_unavailable",)}, descriptions={503: "The database is down"}
    ),
)
async def healthz(context: ContextDep) -> HealthResponse:
    """200 when the database answers, 503 otherwise."""
    if not await context.database_ping():
        raise DatabaseUnavailable("The database is not answering.")
    return HealthResponse(status="ok", database="ok")
