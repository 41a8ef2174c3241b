"""The caller's own limits: today's count, what remains and when it resets."""

from datetime import UTC, datetime

from fastapi import APIRouter

from simplechat.accounts.dependencies import TokenOrKeyUser
from simplechat.kit.http import error_responses
from simplechat.limits.dependencies import LimitServiceDep
from simplechat.limits.schemas import StatusResponse

router = APIRouter(prefix="/user", tags=["user"])


@router.get(
    "/status",
    response_model=StatusResponse,
    summary="Today's message count and limits",
    responses=error_responses(401),
)
async def read_status(user: TokenOrKeyUser, limits: LimitServiceDep) -> StatusResponse:
    """How many messages count against today's limit, what remains, and when it resets."""
    status = await limits.status(user.id, datetime.now(UTC))
    return StatusResponse(
        username=user.username,
        chat_cnt=status.chat_cnt,
        daily_limit=status.daily_limit,
        remaining=status.remaining,
        burst_limit=status.burst_limit,
        burst_window_seconds=status.burst_window_seconds,
        resets_at=status.resets_at,
    )
