"""Reports for observers and hub staff (their scope), and the coordinator's delivery log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from echo_console.entrypoints.web import PageDep, Refused

router = APIRouter(include_in_schema=False)


@router.get("/reports")
async def reports(page: PageDep, region: str | None = None) -> Response:
    person = page.person
    if not person.reads_reports:
        raise Refused("refused.reports")
    network = "network-admin" in person.roles or "*" in person.regions
    chosen = region or (None if network else person.home_region)
    if chosen:
        report: dict[str, Any] = await page.api.get(
            "reporting", f"/v1/reports/regions/{chosen}", page.token
        )
    else:
        report = await page.api.get("reporting", "/v1/reports/network", page.token)
    totals = report.get("totals") or {}
    return page.render(
        "reports.html",
        report=report,
        region=chosen,
        totals=[(k, v) for k, v in totals.items() if isinstance(v, int | float)],
        rows=report.get("programmes", {}).get("items")
        if isinstance(report.get("programmes"), dict)
        else report.get("regions", {}).get("items")
        if isinstance(report.get("regions"), dict)
        else [],
        months=report.get("months") or [],
    )


@router.get("/deliveries")
async def deliveries(page: PageDep) -> Response:
    if not page.person.coordinates:
        raise Refused("refused.coordinators_only")
    listed = await page.api.get("notifications", "/v1/deliveries", page.token, {"limit": 100})
    return page.render("deliveries.html", deliveries=listed["items"], total=listed["total"])
