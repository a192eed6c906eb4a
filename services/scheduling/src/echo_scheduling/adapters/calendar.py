"""RFC 5545 calendar feed of a programme, rendered with the `icalendar` package.

Each session is a VEVENT with a UID derived from its id (stable across reschedules), a SEQUENCE
that rises on every reschedule or cancellation, STATUS:CANCELLED when cancelled, and DTSTART/DTEND
in the programme's own TZID with a VTIMEZONE, so calendar apps show each spoke its own local time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import icalendar

from echo_scheduling.domain.model import Programme, Session, SessionStatus
from echo_scheduling.domain.recurrence import zone

PRODID = "-//Project ECHO//ECHO network scheduling//EN"
UID_DOMAIN = "scheduling.echo-network"


def session_uid(session: Session) -> str:
    """The calendar UID of a session: never changes, whatever happens to the session."""
    return f"{session.id}@{UID_DOMAIN}"


def render_ics(programme: Programme, sessions: Sequence[Session], stamp: datetime) -> bytes:
    """The programme's sessions as one VCALENDAR (bytes, CRLF line endings)."""
    tz = zone(programme.timezone)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", programme.title)
    cal.add("x-wr-timezone", programme.timezone)
    for s in sorted(sessions, key=lambda x: (x.starts_at, str(x.id))):
        event = icalendar.Event()
        event.add("uid", session_uid(s))
        event.add("dtstamp", stamp.astimezone(UTC))
        event.add("dtstart", s.starts_at.astimezone(tz))
        event.add("dtend", s.ends_at.astimezone(tz))
        event.add("sequence", s.sequence)
        summary = programme.title
        if s.didactic_topic:
            summary = f"{programme.title}: {s.didactic_topic}"
        event.add("summary", summary)
        lines = []
        if s.didactic_topic:
            lines.append(f"Didactic: {s.didactic_topic}")
        if s.presenter_name:
            lines.append(f"Presenter: {s.presenter_name}")
        lines.append(f"Case presentations: {len(s.case_slots)}")
        event.add("description", "\n".join(lines))
        cancelled = s.status is SessionStatus.CANCELLED
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        cal.add_component(event)
    if sessions:
        first = min(s.starts_at for s in sessions).date() - timedelta(days=1)
        last = max(s.ends_at for s in sessions).date() + timedelta(days=1)
    else:
        first = last = stamp.date()
    cal.add_missing_timezones(first_date=first, last_date=max(last, first + timedelta(days=1)))
    return bytes(cal.to_ical())
