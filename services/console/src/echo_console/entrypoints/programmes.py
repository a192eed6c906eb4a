"""Programmes: the list, the wizard (with its date preview), the calendar, registration, library."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from echo_console.adapters.platform_api import ApiError
from echo_console.domain.recurrence import InvalidPreview, preview_weekly, zone_of
from echo_console.entrypoints.web import PageDep, Refused

router = APIRouter(include_in_schema=False)

#: Time zones offered first in the wizard (any IANA name may be typed).
COMMON_ZONES = (
    "America/Toronto",
    "America/Chicago",
    "America/New_York",
    "America/Denver",
    "Europe/Belfast",
    "Europe/London",
    "Europe/Dublin",
    "Africa/Windhoek",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "UTC",
)


async def programme_of(page: PageDep, programme_id: uuid.UUID) -> dict[str, Any]:
    programme: dict[str, Any] = await page.api.get(
        "scheduling", f"/v1/programmes/{programme_id}", page.token
    )
    return programme


async def programmes_of(page: PageDep) -> list[dict[str, Any]]:
    listed = await page.api.get("scheduling", "/v1/programmes", page.token, {"limit": 200})
    items: list[dict[str, Any]] = listed["items"]
    return items


@router.get("/programmes")
async def programme_list(page: PageDep) -> Response:
    return page.render("programmes.html", programmes=await programmes_of(page))


# --------------------------------------------------------------------------- the wizard


def _wizard_defaults(page: PageDep) -> dict[str, str]:
    region = page.person.home_region or (page.console.settings.regions[0])
    return {
        "region": region,
        "title": "",
        "language": page.language if page.language != "zh-Hans" else "zh-Hans",
        "timezone": "America/Toronto",
        "starts_on": date.today().isoformat(),
        "local_start": "12:00",
        "session_minutes": "90",
        "interval_weeks": "1",
        "session_count": "12",
        "case_slots": "2",
        "curriculum": "",
    }


def _values(form: Mapping[str, Any], page: PageDep) -> dict[str, str]:
    values = _wizard_defaults(page)
    for key in values:
        if key in form:
            values[key] = str(form[key]).strip()
    return values


def _preview(values: Mapping[str, str]) -> tuple[list[Any], dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    try:
        starts_on = date.fromisoformat(values["starts_on"])
    except ValueError:
        errors["starts_on"] = ["YYYY-MM-DD"]
    try:
        local_start = time.fromisoformat(values["local_start"])
    except ValueError:
        errors["local_start"] = ["HH:MM"]
    numbers: dict[str, int] = {}
    for key in ("interval_weeks", "session_count", "session_minutes"):
        try:
            numbers[key] = int(values[key])
        except ValueError:
            errors[key] = ["1, 2, 3 ..."]
    if errors:
        return [], errors
    try:
        dates = preview_weekly(
            timezone=values["timezone"],
            starts_on=starts_on,
            local_start=local_start,
            interval_weeks=numbers["interval_weeks"],
            session_count=numbers["session_count"],
        )
    except InvalidPreview as exc:
        return [], {exc.field: [exc.message]}
    return dates, {}


def _wizard(page: PageDep, values: dict[str, str], **extra: Any) -> Response:
    regions = sorted(page.person.regions - {"*"}) or page.console.settings.regions
    return page.render(
        "programme_new.html",
        values=values,
        regions=regions,
        zones=COMMON_ZONES,
        **{"preview": [], "errors": {}, "problem": None, **extra},
    )


@router.get("/programmes/new")
async def programme_wizard(page: PageDep) -> Response:
    if not page.person.coordinates:
        raise Refused("refused.coordinators_only")
    return _wizard(page, _wizard_defaults(page))


@router.post("/programmes/new")
async def programme_create(page: PageDep) -> Response:
    form = await page.form()
    if not page.person.coordinates:
        raise Refused("refused.coordinators_only")
    values = _values(form, page)
    dates, errors = _preview(values)
    if errors or form.get("action") != "create":
        status = 422 if errors else 200
        return _wizard(page, values, preview=dates, errors=errors, status_code=status)
    curriculum = [
        {"title": line.strip()} for line in values["curriculum"].splitlines() if line.strip()
    ]
    body = {
        "region": values["region"],
        "title": values["title"],
        "language": values["language"],
        "timezone": values["timezone"],
        "starts_on": values["starts_on"],
        "local_start": values["local_start"],
        "session_minutes": int(values["session_minutes"]),
        "interval_weeks": int(values["interval_weeks"]),
        "session_count": int(values["session_count"]),
        "case_slots": int(values["case_slots"]),
        "curriculum": curriculum,
    }
    try:
        created = await page.api.send("POST", "scheduling", "/v1/programmes", page.token, body)
    except ApiError as exc:
        if exc.status != 422:
            raise
        return _wizard(
            page,
            values,
            preview=dates,
            errors=exc.field_errors(),
            problem=exc.detail,
            status_code=422,
        )
    return page.redirect(f"/programmes/{created['id']}?created=1")


# --------------------------------------------------------------------------- one programme


def _by_month(
    sessions: list[dict[str, Any]], zone: ZoneInfo
) -> list[tuple[str, list[dict[str, Any]]]]:
    months: dict[str, list[dict[str, Any]]] = {}
    for number, s in enumerate(sessions, 1):
        s["number"] = number
        local = datetime.fromisoformat(s["starts_at"]).astimezone(zone)
        s["local"] = local
        months.setdefault(f"{local.year}-{local.month:02d}", []).append(s)
    return list(months.items())


@router.get("/programmes/{programme_id}")
async def programme_page(
    page: PageDep, programme_id: uuid.UUID, created: int = 0, registered: int = 0
) -> Response:
    programme = await programme_of(page, programme_id)
    listed = await page.api.get(
        "scheduling", f"/v1/programmes/{programme_id}/sessions", page.token, {"limit": 200}
    )
    zone = zone_of(programme["timezone"])
    sessions = listed["items"]
    for s in sessions:
        s["local_ends"] = datetime.fromisoformat(s["ends_at"]).astimezone(zone)
    offsets = {datetime.fromisoformat(s["local_starts_at"]).utcoffset() for s in sessions}
    return page.render(
        "programme.html",
        programme=programme,
        months=_by_month(sessions, zone),
        dst=len(offsets) > 1,
        created=bool(created),
        registered=bool(registered),
    )


@router.post("/programmes/{programme_id}/register")
async def register(page: PageDep, programme_id: uuid.UUID) -> Response:
    await page.form()
    try:
        await page.api.send(
            "POST",
            "attendance",
            f"/v1/programmes/{programme_id}/registrations",
            page.token,
            {"participant_id": page.person.subject},
        )
    except ApiError as exc:
        if exc.status != 409:  # 409: registered already, which is what the person wants
            raise
    return page.redirect(f"/programmes/{programme_id}?registered=1")


@router.get("/programmes/{programme_id}/calendar.ics")
async def calendar(page: PageDep, programme_id: uuid.UUID) -> Response:
    answer = await page.api.request(
        "GET", "scheduling", f"/v1/programmes/{programme_id}/calendar.ics", page.token
    )
    return Response(
        answer.content,
        media_type="text/calendar; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="programme-{programme_id}.ics"'},
    )


# --------------------------------------------------------------------------- library


@router.get("/programmes/{programme_id}/library")
async def library(page: PageDep, programme_id: uuid.UUID, added: int = 0) -> Response:
    programme = await programme_of(page, programme_id)
    materials = await page.api.get(
        "scheduling", f"/v1/programmes/{programme_id}/materials", page.token, {"limit": 200}
    )
    return page.render(
        "library.html",
        programme=programme,
        materials=materials["items"],
        added=bool(added),
        problem=None,
        errors={},
    )


@router.post("/programmes/{programme_id}/library")
async def library_upload(page: PageDep, programme_id: uuid.UUID) -> Response:
    form = await page.form()
    upload = form.get("file")
    data = {
        "kind": str(form.get("kind") or "document"),
        "title": str(form.get("title") or ""),
        "language": str(form.get("language") or "en"),
    }
    files = None
    if isinstance(upload, UploadFile) and upload.filename:
        files = {"file": (upload.filename, await upload.read(), upload.content_type or "")}
    try:
        await page.api.request(
            "POST",
            "scheduling",
            f"/v1/programmes/{programme_id}/materials",
            page.token,
            data=data,
            files=files or {},
        )
    except ApiError as exc:
        if exc.status not in (413, 415, 422):
            raise
        programme = await programme_of(page, programme_id)
        materials = await page.api.get(
            "scheduling", f"/v1/programmes/{programme_id}/materials", page.token, {"limit": 200}
        )
        return page.render(
            "library.html",
            status_code=exc.status,
            programme=programme,
            materials=materials["items"],
            added=False,
            problem=exc.detail,
            errors=exc.field_errors(),
        )
    return page.redirect(f"/programmes/{programme_id}/library?added=1")


@router.get("/materials/{material_id}/download")
async def material_download(page: PageDep, material_id: uuid.UUID) -> Response:
    answer = await page.api.request(
        "GET", "scheduling", f"/v1/materials/{material_id}/download", page.token
    )
    # The service answers with a short-lived signed URL: the browser fetches the file there.
    return RedirectResponse(answer.headers["location"], status_code=303)
