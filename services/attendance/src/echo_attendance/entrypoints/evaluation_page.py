"""The page a person reaches from the evaluation link in their email: plain HTML, no script.

`GET /v1/evaluations/{token}` answers this page to browsers (`Accept: text/html`) and JSON to
everyone else; the page posts a classic form to `POST /v1/evaluations/{token}/form`.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import parse_qs

from echo_contracts.events import QuestionKind
from echo_runtime.service import RuntimeDep
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from echo_attendance.domain.evaluation import (
    MAX_COMMENT,
    SCORE_MAX,
    SCORE_MIN,
    AlreadyAnswered,
    EvaluationClosed,
    EvaluationError,
    InvalidAnswers,
    InvalidEvaluationLink,
    NotAnAttendee,
)
from echo_attendance.entrypoints.http import SettingsDep
from echo_attendance.entrypoints.timekeeping import now_of
from echo_attendance.service_layer.evaluations import (
    OpenEvaluation,
    evaluation_by_link,
    submit_evaluation,
)

router = APIRouter(prefix="/v1", tags=["evaluations and guests"])

_STATUS: dict[type[EvaluationError], int] = {
    InvalidAnswers: 422,
    AlreadyAnswered: 409,
    EvaluationClosed: 410,
    InvalidEvaluationLink: 401,
    NotAnAttendee: 403,
}
_SCALE = {
    QuestionKind.SATISFACTION: ("not at all satisfied", "very satisfied"),
    QuestionKind.RELEVANCE: ("not relevant", "very relevant"),
    QuestionKind.CONFIDENCE_BEFORE: ("not confident", "very confident"),
    QuestionKind.CONFIDENCE_AFTER: ("not confident", "very confident"),
    QuestionKind.INTENT_TO_CHANGE: ("no change", "certainly"),
}


def wants_html(request: Request) -> bool:
    """A browser following the emailed link asks for HTML first."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}
fieldset{{border:1px solid #ccc;margin:1rem 0;padding:.5rem 1rem}}
label{{margin-right:.8rem}} .scale{{color:#555;font-size:.9em}} .error{{color:#a00}}
textarea{{width:100%}} button{{font-size:1.1em;padding:.4rem 1.2rem}}
</style></head><body>
<h1>{escape(title)}</h1>
{body}
</body></html>"""
    return HTMLResponse(html, status_code=status)


def render_form(
    token: str, opened: OpenEvaluation, errors: dict[str, str] | None = None, status: int = 200
) -> HTMLResponse:
    """The survey as an HTML form; `errors` (field -> message) are shown by their questions."""
    errors = errors or {}
    parts: list[str] = []
    if opened.form.anonymous:
        parts.append("<p>This evaluation is anonymous: the hub team will not see who answered.</p>")
    parts.append(f"<p>Open until {escape(opened.closes_at.strftime('%Y-%m-%d %H:%M UTC'))}.</p>")
    if errors:
        parts.append('<p class="error" role="alert">Please check the answers marked below.</p>')
    parts.append(f'<form method="post" action="/v1/evaluations/{escape(token)}/form">')
    for q in opened.form.questions:
        needed = " (required)" if q.required else ""
        error = errors.get(f"answers.{q.code}")
        parts.append(f"<fieldset><legend>{escape(q.text)}{needed}</legend>")
        if error:
            parts.append(f'<p class="error">{escape(error)}</p>')
        if q.is_comment:
            parts.append(
                f'<textarea name="{escape(q.code)}" rows="5" maxlength="{MAX_COMMENT}"'
                f' aria-label="{escape(q.text)}"></textarea>'
            )
        else:
            low, high = _SCALE.get(q.kind, ("", ""))
            parts.append(f'<span class="scale">{SCORE_MIN}: {escape(low)}</span><br>')
            for value in range(SCORE_MIN, SCORE_MAX + 1):
                parts.append(
                    f'<label><input type="radio" name="{escape(q.code)}" value="{value}"'
                    f"{' required' if q.required else ''}> {value}</label>"
                )
            parts.append(f'<br><span class="scale">{SCORE_MAX}: {escape(high)}</span>')
        parts.append("</fieldset>")
    parts.append('<button type="submit">Send my answers</button></form>')
    return _page("Session evaluation", "\n".join(parts), status)


def _answers(raw: bytes) -> dict[str, Any]:
    fields = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=False)
    answers: dict[str, Any] = {}
    for code, values in list(fields.items())[:50]:
        value = values[-1].strip()
        # Radio buttons send "1".."5"; anything else goes to the checks as text and is named.
        answers[code] = int(value) if value.isdecimal() and len(value) <= 3 else value
    return answers


@router.post("/evaluations/{token}/form", response_class=HTMLResponse)
async def post_evaluation_form(
    token: str, request: Request, runtime: RuntimeDep, settings: SettingsDep
) -> HTMLResponse:
    """The HTML form's answer: a thank-you page, or the form again naming what to fix."""
    now = now_of(runtime)
    raw = await request.body()
    try:
        opened = await evaluation_by_link(runtime, settings, token, now)
    except EvaluationError as exc:
        return _page(
            "Session evaluation", f"<p>{escape(str(exc))}</p>", _STATUS.get(type(exc), 400)
        )
    try:
        await submit_evaluation(runtime, settings, opened, _answers(raw), now)
    except InvalidAnswers as exc:
        errors = {e["field"]: e["message"] for e in exc.errors}
        return render_form(token, opened, errors, 422)
    except EvaluationError as exc:
        return _page(
            "Session evaluation", f"<p>{escape(str(exc))}</p>", _STATUS.get(type(exc), 400)
        )
    return _page("Thank you", "<p>Your answers were received. Thank you.</p>", 201)
