"""iCalendar (RFC 5545) entries attached to session messages."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar
from icalendar import Event as VEvent

from echo_notifications.domain.ports import CalendarEntry


def session_uid(entry: CalendarEntry) -> str:
    """The calendar UID of a session: stable across reschedules, so clients update one entry."""
    return f"{entry.session_id}@echo-network"


def ics(entry: CalendarEntry) -> str:
    """A one-event calendar: REQUEST (add or move) or CANCEL, with the session's SEQUENCE."""
    cal = Calendar()
    cal.add("prodid", "-//ECHO network//notifications//EN")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if entry.cancelled else "REQUEST")
    event = VEvent()
    event.add("uid", session_uid(entry))
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", entry.starts_at.astimezone(UTC))
    event.add("dtend", entry.ends_at.astimezone(UTC))
    event.add("sequence", entry.sequence)
    event.add("summary", entry.title)
    event.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
    if entry.url:
        event.add("url", entry.url)
        event.add("location", entry.url)
    cal.add_component(event)
    return str(cal.to_ical().decode())
