"""`GET /dashboard`: an HTML page with charts drawn server-side as SVG, no internet asset.

A browser cannot add a bearer header to a page load, so the page also takes the token as the
`access_token` query parameter (RFC 6750 section 2.3); the same role and region checks apply.
"""

from __future__ import annotations

import uuid
from datetime import date
from html import escape
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import urlencode

from echo_contracts.types import Region
from echo_runtime.auth import Principal, TokenVerifier, authenticate
from echo_runtime.problems import Problem
from echo_runtime.service import RuntimeDep, ServiceRuntime
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BeforeValidator

from echo_reporting.entrypoints.charts import grouped_bars, horizontal_bars
from echo_reporting.entrypoints.http import (
    REGION_READERS,
    can_read_network,
    check_region,
    readable_programme,
    report_query,
)
from echo_reporting.service_layer.reports import (
    load_network_report,
    load_programme_report,
    load_region_report,
    load_response_rates,
)

router = APIRouter(tags=["dashboard"])

#: The filter form sends empty fields for "any": treat them as absent.
Blank = BeforeValidator(lambda value: value or None)

ASSETS = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
TABLE_COLUMNS = (
    ("programmes", "Programmes"),
    ("sessions_held", "Sessions held"),
    ("sessions_cancelled", "Cancelled"),
    ("registered_participants", "Registered"),
    ("attending_participants", "Attending"),
    ("unique_clinics", "Clinics"),
    ("average_attendance", "Avg attendance"),
    ("retention", "Retention"),
    ("didactic_hours", "Didactic h"),
    ("cases_presented", "Cases presented"),
    ("cme_hours", "CME h"),
)
STAGES = (
    ("cases_submitted", "Submitted"),
    ("cases_approved", "Approved"),
    ("cases_rejected", "Rejected"),
    ("cases_scheduled", "Scheduled"),
    ("cases_presented", "Presented"),
    ("cases_with_recommendations", "Recommendations issued"),
)


def _principal(request: Request, access_token: str | None) -> Principal:
    if access_token and not request.headers.get("authorization"):
        verifier: TokenVerifier = request.app.state.verifier
        return verifier.verify(access_token)
    return authenticate(request)


@router.get("/dashboard/assets/{name}", include_in_schema=False)
async def dashboard_asset(name: str) -> Response:
    """The page's own CSS and JS, served by this service."""
    if name not in ASSETS:
        raise Problem(404, "Not Found", f"no dashboard asset {name!r}")
    body = files("echo_reporting.entrypoints").joinpath("static", name).read_bytes()
    return Response(body, media_type=ASSETS[name], headers={"Cache-Control": "max-age=300"})


async def _readable_regions(runtime: ServiceRuntime, principal: Principal) -> list[str]:
    return [r for r in runtime.settings.regions if principal.allows(REGION_READERS, r)]


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    runtime: RuntimeDep,
    region: Annotated[Region | None, Blank, Query()] = None,
    programme: Annotated[uuid.UUID | None, Blank, Query()] = None,
    from_: Annotated[date | None, Blank, Query(alias="from")] = None,
    to: Annotated[date | None, Blank, Query()] = None,
    access_token: Annotated[str | None, Query(max_length=8192)] = None,
) -> HTMLResponse:
    """Charts and a table of the network, a region or a programme, filterable by both."""
    principal = _principal(request, access_token)
    q = report_query(from_, to)
    regions = await _readable_regions(runtime, principal)
    region_report: dict[str, Any] | None = None
    if programme is not None:
        region = await readable_programme(runtime, principal, programme)
        report = await load_programme_report(runtime.db, programme, region, q)
    elif region is not None:
        check_region(runtime, principal, region)
    elif can_read_network(principal):
        report = await load_network_report(runtime.db, runtime.settings.regions, q)
    elif regions:
        region = regions[0]
    else:
        raise Problem(403, "Forbidden", "the dashboard needs a hub role or the observer role")
    programmes: list[dict[str, Any]] = []
    if region is not None:
        # The table shows the first TABLE_PROGRAMMES programmes (the CSV has them all); the
        # filter lists every programme by id and title.
        region_report = await load_region_report(
            runtime.db, region, q, window=slice(0, TABLE_PROGRAMMES)
        )
        programmes = region_report.pop("programme_titles")
        region_report.pop("programme_count")
        if programme is None:
            report = region_report
    rates = await load_response_rates(runtime.db, q, region=region, programme_id=programme)
    page = render(
        report,
        regions=regions if not can_read_network(principal) else list(runtime.settings.regions),
        programmes=programmes,
        access_token=access_token,
        response_rates=rates,
    )
    return HTMLResponse(page)


def _tiles(totals: dict[str, Any]) -> str:
    shown = (
        ("programmes", "Programmes"),
        ("sessions_held", "Sessions held"),
        ("unique_participants", "Participants reached"),
        ("unique_clinics", "Clinics reached"),
        ("average_attendance", "Average attendance"),
        ("retention", "Retention"),
        ("didactic_hours", "Didactic hours"),
        ("cme_hours", "CME/CPD hours"),
    )
    return "".join(
        f'<div class="tile"><span class="value" data-metric="{key}">'
        f'{escape(_show(key, totals[key]))}</span><span class="name">{name}</span></div>'
        for key, name in shown
    )


def _show(key: str, value: Any) -> str:
    if key == "retention":
        return f"{value * 100:.0f}%"
    return str(value)


def _table(rows: list[dict[str, Any]], first: str, heading: str) -> str:
    head = "".join(f"<th>{name}</th>" for _, name in TABLE_COLUMNS)
    body = "".join(
        f'<tr><th scope="row">{escape(str(r.get("title") or r[first]))}</th>'
        + "".join(f"<td>{escape(_show(k, r[k]))}</td>" for k, _ in TABLE_COLUMNS)
        + "</tr>"
        for r in rows
    )
    return (
        f'<table class="breakdown"><caption>{heading}</caption>'
        f"<thead><tr><th>{first.replace('_id', '')}</th>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _options(values: list[tuple[str, str]], selected: str | None, blank: str) -> str:
    out = [f'<option value="">{escape(blank)}</option>']
    for value, label in values:
        sel = " selected" if value == selected else ""
        out.append(f'<option value="{escape(value)}"{sel}>{escape(label)}</option>')
    return "".join(out)


#: Programmes in the region table of the dashboard (the region CSV lists every one).
TABLE_PROGRAMMES = 50

#: Sessions shown in the response-rate chart (the most recent ones of the period).
RATE_SESSIONS = 12


def _measure(value: Any) -> str:
    return "n/a" if value is None else str(value)


def evaluations_panel(
    report: dict[str, Any], rates: list[dict[str, Any]], titles: dict[str, str]
) -> str:
    """Response rate per session (a chart) and Moore's outcome levels (a table)."""
    shown = rates[-RATE_SESSIONS:]

    def label(r: dict[str, Any]) -> str:
        day = (r["starts_at"] or "")[:10] or r["session_id"][:8]
        if report["scope"] == "programme":
            return day
        if report["scope"] == "network":
            # Programme titles are regional: the network view names the region instead.
            return f"{day} {r['region']}"
        return f"{day} {titles.get(r['programme_id']) or r['programme_id'][:8]}"

    chart = horizontal_bars(
        "Survey response rate by session (%)",
        [
            (label(r), round(100 * r["response_rate"], 1) if r["response_rate"] else 0.0)
            for r in shown
        ],
        chart_id="chart-response-rates",
    )
    totals = report["totals"]
    summary = (
        f'<p class="evaluation-summary"><span data-metric="evaluation_responses">'
        f"{totals['evaluation_responses']}</span> answers from "
        f'<span data-metric="evaluations_invited">{totals["evaluations_invited"]}</span> invited '
        f'(<span data-metric="response_rate">{_percent(totals["response_rate"])}</span>)'
        f" in {len(rates)} surveyed sessions"
        + (f", the last {len(shown)} shown" if len(shown) < len(rates) else "")
        + "</p>"
    )
    rows = "".join(
        f'<tr data-level="{escape(level["level"])}"><th scope="row">Level '
        f"{escape(level['level'])}: {escape(level['name'])}</th><td>"
        + "; ".join(
            f'{escape(key.replace("_", " "))} <b data-measure="{escape(key)}">'
            f"{escape(_measure(value))}</b>"
            for key, value in level["measures"].items()
        )
        + "</td></tr>"
        for level in report["moore"]
    )
    moore = (
        '<table class="moore" id="moore-levels"><caption>Outcomes by Moore\'s levels'
        "</caption><tbody>" + rows + "</tbody></table>"
    )
    return (
        '<section class="evaluations" id="evaluations"><h2>Evaluations</h2>'
        f'{summary}<div class="panel"><figure>{chart}<figcaption>Answers / people invited to '
        f"each session's survey</figcaption></figure>{moore}</div></section>"
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def render(
    report: dict[str, Any],
    *,
    regions: list[str],
    programmes: list[dict[str, Any]],
    access_token: str | None,
    response_rates: list[dict[str, Any]] | None = None,
) -> str:
    """The whole page for one report."""
    scope = report["scope"]
    totals = report["totals"]
    months = report["months"]
    labels = [m["month"] for m in months]
    over_time = grouped_bars(
        "Sessions and attendance by month",
        labels,
        [
            ("Sessions held", [m["sessions_held"] for m in months]),
            ("Sessions cancelled", [m["sessions_cancelled"] for m in months]),
            ("Attendances", [m["attendances"] for m in months]),
        ],
        chart_id="chart-over-time",
    )
    stages = horizontal_bars(
        "Cases by stage",
        [(name, totals[key]) for key, name in STAGES if key in totals],
        chart_id="chart-cases",
    )
    if scope == "network":
        credit_items = [(r["region"], r["cme_hours"]) for r in report["regions"]]
        credit_title = "CME/CPD hours by region"
        table = _table(report["regions"], "region", "Regions")
    elif scope == "region":
        credit_items = [
            (p["title"] or p["programme_id"][:8], p["cme_hours"]) for p in report["programmes"]
        ]
        credit_title = f"CME/CPD hours by programme in {report['region']}"
        table = _table(report["programmes"], "programme_id", f"Programmes in {report['region']}")
    else:
        credit_items = [(m["month"], m["cme_hours"]) for m in months]
        credit_title = "CME/CPD hours by month"
        table = _table(
            [{**m, "title": m["month"]} for m in months], "month", "Months of this programme"
        )
    credits = horizontal_bars(credit_title, credit_items, chart_id="chart-credits")
    heading = {
        "network": "ECHO network",
        "region": f"Region {report.get('region')}",
        "programme": f"Programme {report.get('title') or report.get('programme_id')}",
    }[scope]
    period = f"{report['from'] or 'the start'} to {report['to'] or 'today'}"
    hidden = (
        f'<input type="hidden" name="access_token" value="{escape(access_token)}">'
        if access_token
        else ""
    )
    region_sel = report.get("region")
    programme_sel = report.get("programme_id")
    csv_query = {k: v for k, v in (("from", report["from"]), ("to", report["to"])) if v}
    csv_path = {
        "network": "/v1/reports/network",
        "region": f"/v1/reports/regions/{region_sel}",
        "programme": f"/v1/reports/programmes/{programme_sel}",
    }[scope]
    csv_link = f"{csv_path}?{urlencode({**csv_query, 'format': 'csv'})}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ECHO reporting: {escape(heading)}</title>
<link rel="stylesheet" href="/dashboard/assets/dashboard.css">
<script src="/dashboard/assets/dashboard.js" defer></script>
</head><body data-scope="{scope}">
<header><h1>{escape(heading)}</h1><p class="period">{escape(period)}</p></header>
<form class="filters" method="get" action="/dashboard">{hidden}
<label>Region <select name="region">{
        _options([(r, r) for r in regions], region_sel, "Network")
    }</select></label>
<label>Programme <select name="programme">{
        _options(
            [(p["programme_id"], p["title"] or p["programme_id"][:8]) for p in programmes],
            programme_sel,
            "All programmes",
        )
    }</select></label>
<label>From <input type="date" name="from" value="{report["from"] or ""}"></label>
<label>To <input type="date" name="to" value="{report["to"] or ""}"></label>
<button type="submit">Show</button>
</form>
<section class="tiles">{_tiles(totals)}</section>
<section class="charts">
<figure>{
        over_time
    }<figcaption>Sessions held, cancelled and attendances per month</figcaption></figure>
<figure>{stages}<figcaption>Cases reaching each stage</figcaption></figure>
<figure>{credits}<figcaption>{escape(credit_title)}</figcaption></figure>
</section>
{
        evaluations_panel(
            report,
            response_rates or [],
            {p["programme_id"]: p["title"] for p in programmes if p.get("title")},
        )
    }
<section>{table}</section>
<p class="export">CSV: <code>{escape(csv_link)}</code> (send your bearer token)</p>
</body></html>
"""
