"""Turn a recorded delivery into the message a person reads, in their language and time zone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from echo_notifications.adapters.repository import SqlaNotificationRepository, utc
from echo_notifications.domain.model import (
    SESSION_TEMPLATES,
    ChannelKind,
    resolve_language,
    safe_zone,
)
from echo_notifications.domain.ports import CalendarEntry, OutgoingMessage
from echo_notifications.domain.templates import (
    agenda_lines,
    local_date,
    local_time,
    render,
    text,
)


@dataclass(frozen=True)
class Deferred:
    """Not now (quiet hours): try again at `until`, without counting an attempt."""

    until: datetime
    give_up: bool = False


@dataclass(frozen=True)
class Undeliverable:
    """Cannot be composed: `code` says why; transient ones are retried."""

    code: str
    permanent: bool


@dataclass(frozen=True)
class Skipped:
    """Not to be sent at all (the recipient opted out): `code` says why."""

    code: str


Composed = OutgoingMessage | Deferred | Undeliverable | Skipped


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    return utc(datetime.fromisoformat(value)) if isinstance(value, str) else utc(value)


async def compose(
    repo: SqlaNotificationRepository,
    delivery: dict[str, Any],
    *,
    now: datetime,
    join_url: str,
    library_url: str = "",
) -> Composed:
    """The message for one delivery, or why it cannot go out now."""
    recipient_id: uuid.UUID = delivery["recipient_id"]
    recipient = await repo.recipient(recipient_id)
    if recipient is None:
        # The participant's profile may still be on its way (events arrive out of order).
        return Undeliverable("recipient_unknown", permanent=False)
    prefs = await repo.preferences(recipient_id)
    programme = await repo.programme(delivery["programme_id"]) if delivery["programme_id"] else None
    params: dict[str, Any] = dict(delivery["params"] or {})
    session = await repo.session_row(delivery["session_id"]) if delivery["session_id"] else None

    language = resolve_language(
        prefs.language if prefs else None,
        recipient["language"],
        programme["language"] if programme else None,
    )
    tz = safe_zone(
        prefs.timezone if prefs else None,
        recipient["timezone"],
        params.get("timezone"),
        session["timezone"] if session else None,
        programme["timezone"] if programme else None,
    )
    template: str = delivery["template"]
    starts_at = _when(params.get("starts_at"))

    if prefs is not None and not prefs.wants(template):
        return Skipped("opted_out")
    # A survey link is worthless once the survey closed (a long retry, a late consumer).
    closes_at = _when(params.get("closes_at")) if template == "evaluation_requested" else None
    if closes_at is not None and now >= closes_at:
        return Skipped("survey_closed")
    if prefs is not None and prefs.quiet_hours is not None:
        until = prefs.quiet_hours.deferral(now, tz)
        if until is not None:
            late = (
                template.startswith("reminder_") and starts_at is not None and until >= starts_at
            ) or (closes_at is not None and until >= closes_at)
            return Deferred(until, give_up=late)

    channel = ChannelKind(delivery["channel"])
    if channel is ChannelKind.EMAIL:
        address = recipient["email"]
        if not address:
            return Undeliverable("no_email_address", permanent=True)
    elif channel is ChannelKind.WEBHOOK:
        address = prefs.webhook_url if prefs else None
        if not address:
            return Undeliverable("no_webhook_url", permanent=True)
    else:
        return Undeliverable(f"no_{channel.value}_sender", permanent=True)

    title = (programme or {}).get("title") or text(language, "programme")
    values: dict[str, str] = {
        "name": recipient["name"] or text(language, "someone"),
        "programme": title,
        "case_ref": str(params.get("case_id", ""))[:8],
        "reason": str(params.get("reason", "")),
        "hours": str(params.get("hours", "")),
    }
    if template in ("evaluation_requested", "recording_available"):
        held = session["starts_at"] if session else None
        values["session"] = (
            text(language, "session.dated").format(
                programme=title, when=local_time(held, tz, language)
            )
            if held is not None
            else text(language, "session.undated").format(programme=title)
        )
    if template == "evaluation_requested":
        values["response_url"] = str(params.get("response_url", ""))
        values["closes"] = local_time(closes_at, tz, language) if closes_at else ""
    if template == "recording_available":
        values["library_url"] = library_url.format(
            programme_id=delivery["programme_id"],
            region=delivery["region"],
            material_id=params.get("material_id", ""),
            session_id=delivery["session_id"] or "",
        )
    if template == "recommendations_recorded":
        values["recommendations"] = str(params.get("recommendations", ""))
        due = params.get("follow_up_due_on")
        values["follow_up"] = (
            text(language, "recommendations.follow_up").format(
                due=local_date(date.fromisoformat(due), language)
            )
            if due
            else ""
        )
    calendar: CalendarEntry | None = None
    data: dict[str, str] = {"template": template}
    if template in SESSION_TEMPLATES and starts_at is not None and delivery["session_id"]:
        session_id: uuid.UUID = delivery["session_id"]
        url = join_url.format(session_id=session_id, region=delivery["region"])
        ends_at = _when(params.get("ends_at")) or starts_at
        values["when"] = local_time(starts_at, tz, language)
        values["join_url"] = url
        previous = _when(params.get("previous_starts_at"))
        if previous is not None:
            values["previous"] = local_time(previous, tz, language)
        if template == "reminder_day_before":
            agenda = await repo.agenda(session_id)
            values["agenda"] = agenda_lines(
                language,
                agenda["didactic_topic"] if agenda else None,
                agenda["presenter_name"] if agenda else None,
                agenda["case_count"] if agenda else 0,
            )
        calendar = CalendarEntry(
            session_id=session_id,
            starts_at=starts_at,
            ends_at=ends_at,
            sequence=int(params.get("sequence", 0)),
            title=title,
            cancelled=template == "session_cancelled",
            url=url,
        )
        data.update(
            session_id=str(session_id),
            starts_at=starts_at.isoformat(),
            ends_at=ends_at.isoformat(),
            local_time=values["when"],
            timezone=tz.key,
        )
    rendered = render(template, language, values)
    return OutgoingMessage(
        delivery_id=delivery["id"],
        idempotency_key=delivery["idempotency_key"],
        recipient_id=recipient_id,
        recipient_name=recipient["name"],
        address=address,
        template=template,
        language=language,
        subject=rendered.subject,
        text=rendered.text,
        cause_event_id=delivery["cause_event_id"],
        calendar=calendar,
        data=data,
    )
