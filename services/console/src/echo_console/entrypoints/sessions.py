"""One session: the run sheet, its agenda, attendance with manual adjustment, and joining."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from echo_console.adapters.platform_api import ApiError
from echo_console.domain.recurrence import zone_of
from echo_console.entrypoints.programmes import programme_of
from echo_console.entrypoints.web import Page, PageDep

router = APIRouter(include_in_schema=False)


async def _cases_of(page: Page, programme_id: str) -> list[dict[str, Any]]:
    """Cases a hub member may place in a slot (approved or already scheduled)."""
    if not page.person.reviews:
        return []
    listed = await page.api.get(
        "cases", "/v1/cases", page.token, {"programme_id": programme_id, "limit": 200}
    )
    return [c for c in listed["items"] if c["status"] in ("approved", "scheduled")]


async def _slot_cases(page: Page, session: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for slot in session["agenda"]["case_slots"]:
        try:
            case = await page.api.get("cases", f"/v1/cases/{slot['case_id']}", page.token)
        except ApiError:
            case = None  # not readable by this person: the slot shows as taken only
        found.append({"position": slot["position"], "case_id": slot["case_id"], "case": case})
    return found


async def _attendance(page: Page, session_id: uuid.UUID) -> tuple[list[Any], list[Any]]:
    if not page.person.reads_reports:
        return [], []
    rows = (
        await page.api.get(
            "attendance", f"/v1/sessions/{session_id}/attendance", page.token, {"limit": 200}
        )
    )["items"]
    names: dict[str, str] = {}
    for row in rows:
        pid = row["participant_id"]
        if pid and pid not in names:
            try:
                who = await page.api.get("attendance", f"/v1/participants/{pid}", page.token)
                names[pid] = who["name"]
            except ApiError:
                names[pid] = pid[:8]
        row["name"] = names.get(pid or "", "guest")
        row["minutes"] = round(row["attended_seconds"] / 60)
    adjustments: list[Any] = []
    if page.person.has("hub-admin", "facilitator"):
        adjustments = (
            await page.api.get(
                "attendance",
                f"/v1/sessions/{session_id}/attendance-adjustments",
                page.token,
                {"limit": 200},
            )
        )["items"]
        for a in adjustments:
            a["name"] = names.get(a["participant_id"] or "", "guest")
    return rows, adjustments


async def _render(
    page: Page,
    session_id: uuid.UUID,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    session = await page.api.get("scheduling", f"/v1/sessions/{session_id}", page.token)
    programme = await programme_of(page, session["programme_id"])
    zone = zone_of(programme["timezone"])
    session["local"] = datetime.fromisoformat(session["starts_at"]).astimezone(zone)
    session["local_ends"] = datetime.fromisoformat(session["ends_at"]).astimezone(zone)
    rows, adjustments = await _attendance(page, session_id)
    return page.render(
        "session.html",
        status_code=status_code,
        session=session,
        programme=programme,
        slots=await _slot_cases(page, session),
        placeable=await _cases_of(page, session["programme_id"]),
        attendance=rows,
        adjustments=adjustments,
        **{"errors": {}, "problem": None, "notice": None, "values": {}, **extra},
    )


@router.get("/sessions/{session_id}")
async def session_page(page: PageDep, session_id: uuid.UUID, saved: str | None = None) -> Response:
    return await _render(page, session_id, notice=saved)


@router.post("/sessions/{session_id}/agenda")
async def save_agenda(page: PageDep, session_id: uuid.UUID) -> Response:
    form = await page.form()
    slots = []
    for position in (1, 2):
        chosen = str(form.get(f"slot{position}") or "").strip()
        if chosen:
            slots.append({"position": position, "case_id": chosen})
    body = {
        "didactic_topic": str(form.get("didactic_topic") or "").strip() or None,
        "presenter_name": str(form.get("presenter_name") or "").strip() or None,
        "case_slots": slots,
    }
    try:
        await page.api.send(
            "PUT", "scheduling", f"/v1/sessions/{session_id}/agenda", page.token, body
        )
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        return await _render(
            page, session_id, 422, problem=exc.detail, errors=exc.field_errors(), values=dict(form)
        )
    return page.redirect(f"/sessions/{session_id}?saved=agenda")


@router.post("/sessions/{session_id}/attendance")
async def adjust_attendance(page: PageDep, session_id: uuid.UUID) -> Response:
    form = await page.form()
    errors: dict[str, list[str]] = {}
    reason = str(form.get("reason") or "").strip()
    participant = str(form.get("participant_id") or "").strip()
    try:
        minutes = float(str(form.get("attended_minutes") or ""))
    except ValueError:
        errors["attended_minutes"] = [page.t("attendance.minutes_invalid")]
        minutes = -1
    if len(reason) < 5:
        errors["reason"] = [page.t("attendance.reason_required")]
    if not participant:
        errors["participant_id"] = [page.t("attendance.choose_person")]
    if errors:
        return await _render(page, session_id, 422, errors=errors, values=dict(form))
    body = {"participant_id": participant, "attended_minutes": minutes, "reason": reason}
    try:
        await page.api.send(
            "POST", "attendance", f"/v1/sessions/{session_id}/attendance", page.token, body
        )
    except ApiError as exc:
        if exc.status != 422:
            raise
        return await _render(
            page, session_id, 422, problem=exc.detail, errors=exc.field_errors(), values=dict(form)
        )
    return page.redirect(f"/sessions/{session_id}?saved=attendance")


@router.post("/sessions/{session_id}/join")
async def join(page: PageDep, session_id: uuid.UUID) -> Response:
    await page.form()
    answer = await page.api.send(
        "POST", "attendance", f"/v1/sessions/{session_id}/join", page.token, {}
    )
    return await _render(page, session_id, notice="joined", joined=answer)
