"""The caller's own account data: who they are, their history, limits and behaviour report."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from simplechat.api.context import AppContext
from simplechat.api.deps import ContextDep, CurrentUser
from simplechat.api.schemas import (
    DayCount,
    HistoryItem,
    ReportResponse,
    ReportTokens,
    ReportTotals,
    StatusResponse,
    UserPublic,
    error_responses,
)
from simplechat.domain.charts import render_activity_svg
from simplechat.domain.users import User
from simplechat.services.report import Report

router = APIRouter(prefix="/user", tags=["user"])

SVG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/svg+xml": {}}, "description": "An SVG chart"}
}


@router.get("/me", response_model=UserPublic, summary="Who am I", responses=error_responses(401))
async def read_me(user: CurrentUser) -> UserPublic:
    """Return the account the Bearer token belongs to (no secret fields)."""
    return UserPublic.from_domain(user)


HISTORY_EXAMPLE = [
    {"type": "user", "text": "hi, my name is Eric"},
    {"type": "ai", "text": "Hello Eric! How can I help you today?"},
]
LAST_N = Path(
    json_schema_extra={"minimum": 1},
    description="How many entries: 1 to the server's maximum (SIMPLECHAT_HISTORY_MAX_ENTRIES, 100)",
    openapi_examples={"the last exchange": {"summary": "your message and its answer", "value": 2}},
)


@router.get(
    "/history/{last_n}",
    response_model=list[HistoryItem],
    summary="Your last messages",
    response_description="Messages and replies, oldest first",
    responses={
        200: {"content": {"application/json": {"example": HISTORY_EXAMPLE}}},
        **error_responses(401, 422, descriptions={422: "last_n is out of range"}),
    },
)
async def read_history(
    last_n: Annotated[int, LAST_N], user: CurrentUser, context: ContextDep
) -> list[HistoryItem]:
    """Your last `last_n` messages and replies, oldest first, as you wrote them (never trimmed)."""
    entries = await context.history.last(user, last_n)
    return [HistoryItem(type="user" if e.role == "user" else "ai", text=e.text) for e in entries]


@router.get(
    "/status",
    response_model=StatusResponse,
    summary="Today's message count and limits",
    responses=error_responses(401),
)
async def read_status(user: CurrentUser, context: ContextDep) -> StatusResponse:
    """How many messages count against today's limit, what remains, and when it resets."""
    status = await context.limits.status(user.id, datetime.now(UTC))
    return StatusResponse(
        username=user.username,
        chat_cnt=status.chat_cnt,
        daily_limit=status.daily_limit,
        remaining=status.remaining,
        burst_limit=status.burst_limit,
        burst_window_seconds=status.burst_window_seconds,
        resets_at=status.resets_at,
    )


def _report_response(report: Report) -> ReportResponse:
    activity = report.activity
    return ReportResponse(
        username=report.username,
        generated_at=report.generated_at,
        timezone=report.timezone,
        totals=ReportTotals(
            messages=report.messages,
            replies=report.replies,
            plain=report.by_kind.get("plain", 0),
            advanced=report.by_kind.get("advanced", 0),
        ),
        active_days=activity.active_days,
        messages_per_day=[
            DayCount(date=d.isoformat(), count=c) for d, c in activity.messages_per_day
        ],
        hour_histogram=activity.hour_histogram,
        average_message_chars=report.average_chars,
        average_message_tokens=report.average_tokens,
        tokens=ReportTokens(
            prompt=report.prompt_tokens,
            completion=report.completion_tokens,
            total=report.prompt_tokens + report.completion_tokens,
        ),
        limit_refusals=report.refusals,
        first_activity=activity.first_activity,
        last_activity=activity.last_activity,
    )


async def _build_report(user: User, context: AppContext) -> ReportResponse:
    return _report_response(await context.reports.build(user, datetime.now(UTC)))


def _svg(report: ReportResponse) -> Response:
    summary = (
        f"{report.totals.messages} messages ({report.totals.advanced} advanced) on "
        f"{report.active_days} day{'' if report.active_days == 1 else 's'} · "
        f"{report.tokens.total} tokens · "
        f"{sum(report.limit_refusals.values())} refused by limits"
    )
    svg = render_activity_svg(
        title=f"simplechat activity of {report.username}",
        summary=summary,
        per_day=[(d.date, d.count) for d in report.messages_per_day],
        per_hour=report.hour_histogram,
    )
    return Response(svg, media_type="image/svg+xml")


@router.get(
    "/report",
    response_model=ReportResponse,
    summary="Your behaviour report",
    responses={**error_responses(401, 422), **SVG_RESPONSE},
)
async def read_report(
    user: CurrentUser,
    context: ContextDep,
    format: Literal["json", "svg"] = Query("json", description="json, or svg for a chart"),
) -> ReportResponse | Response:
    """Totals, active days, messages per day and per hour, tokens, and limit refusals."""
    report = await _build_report(user, context)
    return _svg(report) if format == "svg" else report


@router.get(
    "/report.svg",
    summary="Your behaviour report as a chart",
    response_class=Response,
    responses={**error_responses(401), **SVG_RESPONSE},
)
async def read_report_svg(user: CurrentUser, context: ContextDep) -> Response:
    """The behaviour report drawn as an SVG chart."""
    return _svg(await _build_report(user, context))
