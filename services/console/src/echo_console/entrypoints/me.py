"""A spoke's own pages: credits and certificates, and notification preferences."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from echo_console.adapters.platform_api import ApiError
from echo_console.entrypoints.programmes import programmes_of
from echo_console.entrypoints.web import Page, PageDep

router = APIRouter(include_in_schema=False)

CHANNELS = ("email", "webhook")


@router.get("/me/credits")
async def my_credits(page: PageDep) -> Response:
    me = page.person.subject
    credits = (
        await page.api.get(
            "attendance", f"/v1/participants/{me}/credits", page.token, {"limit": 200}
        )
    )["items"]
    titles = {p["id"]: p["title"] for p in await programmes_of(page)}
    by_programme: dict[str, dict[str, Any]] = {}
    for credit in credits:
        entry = by_programme.setdefault(
            credit["programme_id"],
            {"title": titles.get(credit["programme_id"], credit["programme_id"]), "rows": []},
        )
        entry["rows"].append(credit)
    for entry in by_programme.values():
        entry["hours"] = sum(r["hours"] for r in entry["rows"])
    return page.render("credits.html", programmes=by_programme)


@router.get("/me/certificates/{programme_id}")
async def my_certificate(page: PageDep, programme_id: uuid.UUID) -> Response:
    me = page.person.subject
    answer = await page.api.request(
        "GET", "attendance", f"/v1/participants/{me}/certificates/{programme_id}", page.token
    )
    return Response(
        answer.content,
        media_type="application/pdf",
        headers={
            "content-disposition": answer.headers.get(
                "content-disposition", f'attachment; filename="certificate-{programme_id}.pdf"'
            )
        },
    )


async def _preferences(page: Page) -> dict[str, Any]:
    try:
        prefs: dict[str, Any] = await page.api.get(
            "notifications", f"/v1/participants/{page.person.subject}/preferences", page.token
        )
    except ApiError as exc:
        if exc.status != 404:
            raise
        prefs = {"channels": ["email"], "language": None, "quiet_hours": None, "opted_out": []}
    return prefs


@router.get("/me/preferences")
async def preferences(page: PageDep, saved: int = 0) -> Response:
    return page.render(
        "preferences.html", prefs=await _preferences(page), saved=bool(saved), errors={},
        problem=None, channels=CHANNELS,
    )  # fmt: skip


@router.post("/me/preferences")
async def save_preferences(page: PageDep) -> Response:
    form = await page.form()
    body: dict[str, Any] = {
        "channels": [c for c in CHANNELS if form.get(f"channel_{c}")],
        "language": str(form.get("language") or "") or None,
        "opted_out": [o for o in ("evaluations", "library") if form.get(f"opt_out_{o}")],
    }
    start, end = str(form.get("quiet_start") or ""), str(form.get("quiet_end") or "")
    if start or end:
        body["quiet_hours"] = {"start": start, "end": end}
    webhook = str(form.get("webhook_url") or "").strip()
    if webhook:
        body["webhook_url"] = webhook
    try:
        await page.api.send(
            "PUT",
            "notifications",
            f"/v1/participants/{page.person.subject}/preferences",
            page.token,
            body,
        )
    except ApiError as exc:
        if exc.status != 422:
            raise
        prefs = {**body, "quiet_hours": body.get("quiet_hours")}
        return page.render(
            "preferences.html", status_code=422, prefs=prefs, saved=False,
            errors=exc.field_errors(), problem=exc.detail, channels=CHANNELS,
        )  # fmt: skip
    if page.session is not None and body["language"]:
        page.session.language = body["language"]
    return page.redirect("/me/preferences?saved=1")
