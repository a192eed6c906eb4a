"""Cases: submission on the programme's template (PHI findings on the fields), review, advice."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from echo_console.adapters.platform_api import ApiError
from echo_console.domain.recurrence import zone_of
from echo_console.entrypoints.programmes import programme_of, programmes_of
from echo_console.entrypoints.web import Page, PageDep, Refused

router = APIRouter(include_in_schema=False)

QUEUE = ("submitted", "in_review")


def marked(text: str, findings: Sequence[Mapping[str, Any]]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, is_finding) so the page can mark exactly the spans named."""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for f in sorted(findings, key=lambda f: int(f["start"])):
        start, end = max(int(f["start"]), at), min(int(f["end"]), len(text))
        if start >= end:
            continue
        pieces.append((text[at:start], False))
        pieces.append((text[start:end], True))
        at = end
    pieces.append((text[at:], False))
    return [p for p in pieces if p[0]]


async def _template(page: Page, programme_id: uuid.UUID) -> dict[str, Any]:
    listed = await page.api.get(
        "cases", "/v1/case-templates", page.token, {"programme_id": str(programme_id)}
    )
    template: dict[str, Any] = listed["items"][0]
    return template


@router.get("/programmes/{programme_id}/cases/new")
async def case_form(page: PageDep, programme_id: uuid.UUID) -> Response:
    programme = await programme_of(page, programme_id)
    return page.render(
        "case_new.html",
        programme=programme,
        template=await _template(page, programme_id),
        values={},
        findings={},
        errors={},
        problem=None,
    )


@router.post("/programmes/{programme_id}/cases/new")
async def case_submit(page: PageDep, programme_id: uuid.UUID) -> Response:
    form = await page.form()
    template = await _template(page, programme_id)
    values = {
        f["name"]: str(form.get(f["name"]) or "").strip()
        for f in template["fields"]
        if str(form.get(f["name"]) or "").strip()
    }
    body = {
        "programme_id": str(programme_id),
        "template_id": template["id"],
        "template_version": template["version"],
        "fields": values,
    }
    try:
        case = await page.api.send("POST", "cases", "/v1/cases", page.token, body)
    except ApiError as exc:
        if exc.status != 422:
            raise
        findings: dict[str, list[dict[str, Any]]] = {}
        for f in exc.problem.get("findings") or []:
            name = str(f["field"]).removeprefix("fields.")
            findings.setdefault(name, []).append(f)
        return page.render(
            "case_new.html",
            status_code=422,
            programme=await programme_of(page, programme_id),
            template=template,
            values=values,
            findings={k: (v, marked(values.get(k, ""), v)) for k, v in findings.items()},
            errors={} if findings else exc.field_errors(),
            problem=exc.detail,
            categories=exc.problem.get("categories") or [],
        )
    return page.redirect(f"/cases/{case['id']}?submitted=1")


async def _cases(page: Page, statuses: tuple[str, ...] | None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for programme in await programmes_of(page):
        try:
            listed = await page.api.get(
                "cases", "/v1/cases", page.token, {"programme_id": programme["id"], "limit": 200}
            )
        except ApiError as exc:
            if exc.status in (403, 404):
                continue  # a programme whose cases this person does not see
            raise
        for case in listed["items"]:
            if statuses is None or case["status"] in statuses:
                case["programme_title"] = programme["title"]
                found.append(case)
    return found


@router.get("/review")
async def review_queue(page: PageDep) -> Response:
    if not page.person.reviews:
        raise Refused("refused.reviewers_only")
    return page.render("review.html", cases=await _cases(page, QUEUE), mine=False)


@router.get("/me/cases")
async def my_cases(page: PageDep) -> Response:
    mine = [c for c in await _cases(page, None) if c["presenter_id"] == page.person.subject]
    return page.render("review.html", cases=mine, mine=True)


async def _case_page(
    page: Page, case_id: uuid.UUID, status_code: int = 200, **extra: Any
) -> Response:
    """A case with its template's labels, its times in the programme's own time zone."""
    case = await page.api.get("cases", f"/v1/cases/{case_id}", page.token)
    listed = await page.api.get(
        "cases", "/v1/case-templates", page.token, {"programme_id": case["programme_id"]}
    )
    try:
        zone = zone_of((await programme_of(page, case["programme_id"]))["timezone"])
    except ApiError:
        zone = zone_of("UTC")  # the programme is not readable here: show UTC, say so by name
    for entry in case.get("recommendation_history") or []:
        entry["issued_at"] = datetime.fromisoformat(entry["issued_at"]).astimezone(zone)
    return page.render(
        "case.html",
        status_code=status_code,
        case=case,
        labels={f["name"]: f["label"] for t in listed["items"] for f in t["fields"]},
        **{"submitted": False, "errors": {}, "problem": None, **extra},
    )


@router.get("/cases/{case_id}")
async def case_page(page: PageDep, case_id: uuid.UUID, submitted: int = 0) -> Response:
    return await _case_page(page, case_id, submitted=bool(submitted))


async def _decide(page: Page, case_id: uuid.UUID, action: str, body: Any) -> Response:
    try:
        await page.api.send("POST", "cases", f"/v1/cases/{case_id}/{action}", page.token, body)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        return await _case_page(
            page, case_id, exc.status, errors=exc.field_errors(), problem=exc.detail
        )
    return page.redirect(f"/cases/{case_id}")


@router.post("/cases/{case_id}/approve")
async def approve(page: PageDep, case_id: uuid.UUID) -> Response:
    await page.form()
    case = await page.api.get("cases", f"/v1/cases/{case_id}", page.token)
    if case["status"] == "submitted":  # approving starts the review on the way
        await page.api.send("POST", "cases", f"/v1/cases/{case_id}/review", page.token, None)
    return await _decide(page, case_id, "approve", None)


@router.post("/cases/{case_id}/reject")
async def reject(page: PageDep, case_id: uuid.UUID) -> Response:
    form = await page.form()
    reason = str(form.get("reason") or "").strip()
    if len(reason) < 3:  # checked before the review starts: nothing half-done
        return await _case_page(
            page, case_id, 422, errors={"reason": [page.t("case.reason_required")]}
        )
    case = await page.api.get("cases", f"/v1/cases/{case_id}", page.token)
    if case["status"] == "submitted":
        await page.api.send("POST", "cases", f"/v1/cases/{case_id}/review", page.token, None)
    return await _decide(page, case_id, "reject", {"reason": reason})


@router.post("/cases/{case_id}/recommendations")
async def recommend(page: PageDep, case_id: uuid.UUID) -> Response:
    form = await page.form()
    body: dict[str, Any] = {"text": str(form.get("text") or "")}
    weeks = str(form.get("follow_up_weeks") or "").strip()
    if weeks:
        body["follow_up_weeks"] = int(weeks) if weeks.isdigit() else weeks
    return await _decide(page, case_id, "recommendations", body)
