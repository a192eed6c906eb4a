"""Editing a programme's rule re-plans only its future sessions; excluded dates stay excluded."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from echo_scheduling.domain.model import Programme, SessionStatus

TZ = ZoneInfo("America/Toronto")


def test_an_edited_rule_moves_cancels_and_adds_future_sessions_only() -> None:
    p = Programme(
        id=uuid.uuid4(),
        region="ontario",
        title="ECHO Hepatitis C",
        language="en",
        timezone="America/Toronto",
        session_minutes=90,
        starts_on=date(2027, 3, 2),
        local_start=time(12, 0),
        excluded_dates=[date(2027, 3, 16)],
    )
    sessions = p.generate_sessions(date(2027, 1, 1), count=6)
    assert [s.starts_at.astimezone(TZ).date().day for s in sessions] == [2, 9, 23, 30, 6]
    past = [(s.id, s.starts_at, s.sequence) for s in sessions[:2]]

    p.local_start, p.interval_weeks = time(14, 0), 2
    now = datetime(2027, 3, 10, tzinfo=UTC)
    change = p.replan(sessions, now)

    local = lambda s: s.starts_at.astimezone(TZ)  # noqa: E731
    assert [local(s).date() for s in change.cancelled] == [date(2027, 3, 23), date(2027, 4, 6)]
    assert all(s.status is SessionStatus.CANCELLED and s.sequence == 1 for s in change.cancelled)
    assert [(local(s).date(), local(s).time(), s.sequence) for s, _ in change.moved] == [
        (date(2027, 3, 30), time(14, 0), 1)
    ]
    assert [(local(s).date(), local(s).time()) for s in change.added] == [
        (date(2027, 4, 13), time(14, 0)),
        (date(2027, 4, 27), time(14, 0)),
        (date(2027, 5, 11), time(14, 0)),
    ]
    # 16 March is on the new fortnightly rule but stays excluded; the past is untouched.
    assert date(2027, 3, 16) not in [local(s).date() for s in change.added]
    assert [(s.id, s.starts_at, s.sequence) for s in sessions[:2]] == past
