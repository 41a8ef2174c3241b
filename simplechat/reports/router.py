"""The caller's behaviour report, as JSON or as an SVG chart."""

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from simplechat.accounts.dependencies import TokenOrKeyUser
from simplechat.accounts.types import User
from simplechat.kit.http import error_responses
from simplechat.reports.charts import render_activity_svg
from simplechat.reports.dependencies import ReportServiceDep
from simplechat.reports.schemas import (
    DayCount,
    ReportMedia,
    ReportResponse,
    ReportTokens,
    ReportTotals,
)
from simplechat.reports.service import Report, ReportService

router = APIRouter(prefix="/user", tags=["user"])

SVG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/svg+xml": {}}, "description": "An SVG chart"}
}


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
            openai=report.by_kind.get("openai", 0),
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
        media=ReportMedia(
            recordings=report.media.recordings,
            speech_seconds=report.media.speech_ms / 1000,
            pictures=report.media.pictures,
        ),
        first_activity=activity.first_activity,
        last_activity=activity.last_activity,
    )


async def _build_report(user: User, reports: ReportService) -> ReportResponse:
    return _report_response(await reports.build(user, datetime.now(UTC)))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _svg(report: ReportResponse) -> Response:
    summary = (
        f"{_count(report.totals.messages, 'message')} ({report.totals.advanced} advanced) on "
        f"{_count(report.active_days, 'day')} · "
        f"{_count(report.tokens.total, 'token')} · "
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
    user: TokenOrKeyUser,
    reports: ReportServiceDep,
    format: Literal["json", "svg"] = Query("json", description="json, or svg for a chart"),
) -> ReportResponse | Response:
    """Totals, active days, messages per day and per hour, tokens, limit refusals, media."""
    report = await _build_report(user, reports)
    return _svg(report) if format == "svg" else report


@router.get(
    "/report.svg",
    summary="Your behaviour report as a chart",
    response_class=Response,
    responses={**error_responses(401), **SVG_RESPONSE},
)
async def read_report_svg(user: TokenOrKeyUser, reports: ReportServiceDep) -> Response:
    """The behaviour report drawn as an SVG chart."""
    return _svg(await _build_report(user, reports))
