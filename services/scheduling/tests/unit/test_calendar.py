"""The .ics feed: its shape pinned by a golden file, and what calendar apps read from it."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
from echo_scheduling.adapters.calendar import render_ics
from echo_scheduling.domain.model import Programme, Topic

GOLDEN = Path(__file__).parent / "golden" / "programme.ics"
NOW = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)


def programme() -> Programme:
    p = Programme(
        id=uuid.UUID("0b6f1d3c-8a43-4a8e-9c55-3f2d0a1e7b01"),
        region="ontario",
        title="ECHO Chronic Pain",
        language="en",
        timezone="America/Toronto",
        session_minutes=90,
        starts_on=date(2027, 3, 2),
        local_start=time(12, 0),
        curriculum=[
            Topic(1, "Pain neuroscience", "Dr. A. Expert"),
            Topic(2, "Opioid tapering"),
        ],
    )
    p.generate_sessions(date(2027, 1, 1), count=4)
    first, _, third, _ = p.sessions
    first.reschedule(first.starts_at + timedelta(hours=1), None, NOW)
    third.cancel("Statutory holiday")
    first.case_slots[1] = uuid.UUID("5a0e2f4b-0000-4000-8000-000000000001")
    return p


def test_the_feed_matches_the_golden_file() -> None:
    p = programme()
    body = render_ics(p, p.sessions, NOW)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_bytes(body)
    assert body == GOLDEN.read_bytes(), "run with UPDATE_GOLDEN=1 after an intended change"


def test_calendar_apps_read_local_times_uids_sequence_and_cancellations() -> None:
    p = programme()
    cal = icalendar.Calendar.from_ical(render_ics(p, p.sessions, NOW))
    events = list(cal.walk("VEVENT"))
    assert [str(e["UID"]) for e in events] == [
        f"{s.id}@scheduling.echo-network" for s in p.sessions
    ]
    starts = [e.decoded("DTSTART") for e in events]
    # 13:00 after the reschedule, then noon local across the 14 March DST change.
    assert [(s.hour, s.minute) for s in starts] == [(13, 0), (12, 0), (12, 0), (12, 0)]
    assert [s.astimezone(UTC).hour for s in starts] == [18, 17, 16, 16]
    assert [int(e["SEQUENCE"]) for e in events] == [1, 0, 1, 0]
    assert [str(e["STATUS"]) for e in events] == [
        "CONFIRMED",
        "CONFIRMED",
        "CANCELLED",
        "CONFIRMED",
    ]
    assert all(e["DTSTART"].params["TZID"] == "America/Toronto" for e in events)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["America/Toronto"]
    assert "Presenter: Dr. A. Expert" in str(events[0]["DESCRIPTION"])


def test_a_spoke_in_another_zone_sees_the_same_instant_in_its_own_local_time() -> None:
    p = programme()
    cal = icalendar.Calendar.from_ical(render_ics(p, p.sessions, NOW))
    second = list(cal.walk("VEVENT"))[1].decoded("DTSTART")  # Tue 9 March, noon in Toronto
    shanghai = second.astimezone(ZoneInfo("Asia/Shanghai"))
    belfast = second.astimezone(ZoneInfo("Europe/Belfast"))
    assert (shanghai.date(), shanghai.hour) == (date(2027, 3, 10), 1)
    assert (belfast.date(), belfast.hour) == (date(2027, 3, 9), 17)
