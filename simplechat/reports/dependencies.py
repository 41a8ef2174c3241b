"""The report service, as an Annotated alias."""

from typing import Annotated

from fastapi import Depends, Request

from simplechat.reports.service import ReportService


async def get_report_service(request: Request) -> ReportService:
    service: ReportService = request.state.reports
    return service


ReportServiceDep = Annotated[ReportService, Depends(get_report_service)]
