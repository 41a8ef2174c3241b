"""Liveness and database health."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from simplechat.api.deps import ContextDep
from simplechat.api.schemas import HealthResponse, error_responses

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=HealthResponse,
    summary="Health check",
    responses=error_responses(503),
)
async def healthz(context: ContextDep) -> HealthResponse | JSONResponse:
    """200 when the database answers, 503 otherwise."""
    if await context.database_ping():
        return HealthResponse(status="ok", database="ok")
    body = {
        "error": "DatabaseUnavailable",
        "code": "database_unavailable",
        "detail": "The database is not answering.",
    }
    return JSONResponse(body, status_code=503)
