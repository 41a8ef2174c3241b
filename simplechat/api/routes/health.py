"""Liveness and database health."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from simplechat.api.deps import ContextDep
from simplechat.api.errors import error_body
from simplechat.api.schemas import HealthResponse, error_responses

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
async def healthz(context: ContextDep) -> HealthResponse | JSONResponse:
    """200 when the database answers, 503 otherwise."""
    if await context.database_ping():
        return HealthResponse(status="ok", database="ok")
    body = error_body(
        "DatabaseUnavailable", "database_unavailable", "The database is not answering."
    )
    return JSONResponse(body, status_code=503)
