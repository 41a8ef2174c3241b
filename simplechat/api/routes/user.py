"""The caller's own account data."""

from fastapi import APIRouter

from simplechat.api.deps import CurrentUser
from simplechat.api.schemas import UserPublic, error_responses

router = APIRouter(prefix="/user", tags=["user"])


@router.get("/me", response_model=UserPublic, summary="Who am I", responses=error_responses(401))
async def read_me(user: CurrentUser) -> UserPublic:
    """Return the account the Bearer token belongs to (no secret fields)."""
    return UserPublic.from_domain(user)
