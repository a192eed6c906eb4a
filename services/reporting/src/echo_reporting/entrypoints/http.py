"""REST API of reporting: network, region, programme and evaluation reports (JSON or CSV)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Annotated, Any, Literal

from echo_contracts.types import Region
from echo_runtime.auth import CurrentPrincipal, Principal, Role
from echo_runtime.pagination import Page, PageDep, PageParams
from echo_runtime.problems import Problem
from echo_runtime.service import RuntimeDep, ServiceRuntime
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from echo_reporting.domain.metrics import DateRange
from echo_reporting.service_layer.reports import (
    ReportQuery,
    csv_columns,
    csv_rows,
    evaluation_csv_columns,
    evaluation_csv_rows,
    load_network_report,
    load_programme_evaluations,
    load_programme_report,
    load_region_report,
    load_session_evaluations,
    place_of_session,
    region_of_programme,
)

router = APIRouter(prefix="/v1/reports", tags=["reports"])

#: The reports answer JSON, or CSV with `?format=csv`.
REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report as JSON, or as CSV (header row first) with `?format=csv`",
        "content": {"application/json": {}, "text/csv": {}},
    },
    401: {"description": "No or an invalid bearer token"},
    403: {"description": "The token's roles or regions do not allow this report"},
    422: {"description": "An invalid query parameter (named in `errors`)"},
}

#: Who reads a region's (or one of its programmes') report; network-admins read everything.
REGION_READERS = (Role.HUB_ADMIN, Role.FACILITATOR, Role.EXPERT, Role.OBSERVER)

Format = Annotated[
    Literal["json", "csv"], Query(description="`csv` for a spreadsheet with a header row")
]
From = Annotated[date | None, Query(alias="from", description="first day, inclusive")]
To = Annotated[date | None, Query(description="last day, inclusive")]


def report_query(from_: date | None, to: date | None) -> ReportQuery:
    return ReportQuery(rng=DateRange(from_, to))


def can_read_network(principal: Principal) -> bool:
    return principal.has_any([Role.NETWORK_ADMIN, Role.OBSERVER])


def _paged(report: dict[str, Any], key: str, page: PageParams) -> dict[str, Any]:
    items = report[key]
    report[key] = Page.of(
        items[page.offset : page.offset + page.limit], len(items), page
    ).model_dump()
    return report


def _csv(report: dict[str, Any], *, regional: bool, name: str) -> Response:
    return _sheet(csv_columns(regional=regional), csv_rows(report), name)


def _sheet(columns: list[str], rows: list[dict[str, Any]], name: str) -> Response:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


async def readable_programme(
    runtime: ServiceRuntime, principal: Principal, programme_id: uuid.UUID
) -> str:
    """The programme's region, or a 404 when it is unknown or the caller may not see it."""
    region = await region_of_programme(runtime.db, programme_id)
    if region is None or not principal.allows(REGION_READERS, region, programme_id):
        raise Problem(404, "Not Found", f"no programme {programme_id} whose report you can read")
    return region


def check_region(runtime: ServiceRuntime, principal: Principal, region: str) -> None:
    principal.require(REGION_READERS, region)
    if region not in runtime.settings.regions:
        raise Problem(
            404,
            "Not Found",
            f"this deployment reports on {runtime.settings.regions}, not {region!r}",
        )


@router.get("/network", responses=REPORT_RESPONSES)
async def get_network_report(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    page: PageDep,
    from_: From = None,
    to: To = None,
    format: Format = "json",
) -> Response:
    """Network-wide metrics, per region and by month, built from `network` events only."""
    if not can_read_network(principal):
        raise Problem(
            403, "Forbidden", "the network report needs the network-admin or observer role"
        )
    report = await load_network_report(
        runtime.db, runtime.settings.regions, report_query(from_, to)
    )
    if format == "csv":
        return _csv(report, regional=False, name="echo-network-report")
    return JSONResponse(_paged(report, "regions", page))


@router.get("/regions/{region}", responses=REPORT_RESPONSES)
async def get_region_report(
    region: Region,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    page: PageDep,
    from_: From = None,
    to: To = None,
    format: Format = "json",
) -> Response:
    """One region's metrics, per programme and by month."""
    check_region(runtime, principal, region)
    if format == "csv":
        report = await load_region_report(runtime.db, region, report_query(from_, to))
        return _csv(report, regional=True, name=f"echo-{region}-report")
    # Only the page's programmes are computed.
    report = await load_region_report(
        runtime.db,
        region,
        report_query(from_, to),
        window=slice(page.offset, page.offset + page.limit),
    )
    return JSONResponse(region_page(report, page))


def region_page(report: dict[str, Any], page: PageParams) -> dict[str, Any]:
    """A region report whose `programmes` (already that page's) become a `Page`."""
    total = report.pop("programme_count")
    report.pop("programme_titles")
    report["programmes"] = Page.of(report["programmes"], total, page).model_dump()
    return report


@router.get("/programmes/{programme_id}", responses=REPORT_RESPONSES)
async def get_programme_report(
    programme_id: uuid.UUID,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    from_: From = None,
    to: To = None,
    format: Format = "json",
) -> Response:
    """One programme's metrics, overall and by month."""
    region = await readable_programme(runtime, principal, programme_id)
    report = await load_programme_report(runtime.db, programme_id, region, report_query(from_, to))
    if format == "csv":
        return _csv(report, regional=True, name=f"echo-programme-{programme_id}-report")
    return JSONResponse(report)


@router.get("/programmes/{programme_id}/evaluations", responses=REPORT_RESPONSES)
async def get_programme_evaluations(
    programme_id: uuid.UUID,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    page: PageDep,
    from_: From = None,
    to: To = None,
    format: Format = "json",
) -> Response:
    """A programme's post-session surveys: response rates and scores, Moore's levels, per session.

    The CSV has the totals row, then every session (not paginated).
    """
    region = await readable_programme(runtime, principal, programme_id)
    report = await load_programme_evaluations(
        runtime.db, programme_id, region, report_query(from_, to)
    )
    if format == "csv":
        return _sheet(
            evaluation_csv_columns(),
            evaluation_csv_rows(report),
            f"echo-programme-{programme_id}-evaluations",
        )
    return JSONResponse(_paged(report, "sessions", page))


@router.get("/sessions/{session_id}/evaluations", responses=REPORT_RESPONSES)
async def get_session_evaluations(
    session_id: uuid.UUID,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    format: Format = "json",
) -> Response:
    """One session's survey: invited, answers, scores by question kind, its Moore levels.

    Readable by whoever may read its programme's report (404 otherwise, as for programmes).
    """
    place = await place_of_session(runtime.db, session_id)
    if place is None or not principal.allows(REGION_READERS, place.region, place.programme_id):
        raise Problem(404, "Not Found", f"no session {session_id} whose report you can read")
    report = await load_session_evaluations(runtime.db, session_id, place, report_query(None, None))
    if format == "csv":
        return _sheet(
            evaluation_csv_columns(),
            evaluation_csv_rows(report),
            f"echo-session-{session_id}-evaluations",
        )
    return JSONResponse(report)
