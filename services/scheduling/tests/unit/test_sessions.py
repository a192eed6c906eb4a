"""A session's own rules: moving, cancelling, agendas and case slots (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from echo_scheduling.domain.errors import (
    CaseAlreadyScheduled,
    InvalidAgenda,
    SessionCancelledAlready,
    SessionInPast,
)
from echo_scheduling.domain.model import Session, SessionStatus

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


def session() -> Session:
    start = NOW + timedelta(days=7)
    return Session(uuid.uuid4(), uuid.uuid4(), start, start + timedelta(minutes=90))


def test_rescheduling_keeps_the_length_raises_the_sequence_and_returns_the_old_start() -> None:
    s = session()
    old = s.starts_at
    assert s.reschedule(old + timedelta(days=1), None, NOW) == old
    assert (s.sequence, s.minutes, s.starts_at) == (1, 90, old + timedelta(days=1))
    s.reschedule(old + timedelta(days=2), 120, NOW)
    assert (s.sequence, s.minutes) == (2, 120)


def test_a_session_cannot_move_into_the_past_nor_beyond_three_years() -> None:
    s = session()
    with pytest.raises(SessionInPast) as past:
        s.reschedule(NOW - timedelta(minutes=1), None, NOW)
    assert past.value.field == "starts_at"
    with pytest.raises(SessionInPast):
        s.reschedule(NOW + timedelta(days=3 * 366 + 1), None, NOW)
    assert s.sequence == 0


def test_cancelling_twice_changes_nothing_the_second_time_and_blocks_edits() -> None:
    s = session()
    assert s.cancel("holiday") is True
    assert s.cancel("again") is False
    assert (s.status, s.sequence, s.cancel_reason) == (SessionStatus.CANCELLED, 1, "holiday")
    with pytest.raises(SessionCancelledAlready):
        s.reschedule(NOW + timedelta(days=9), None, NOW)
    with pytest.raises(SessionCancelledAlready):
        s.set_agenda("x", "y", None, 2)
    assert s.free_slot(2) is None


def test_an_agenda_without_presenter_is_a_warning_and_slots_are_checked() -> None:
    s = session()
    s.set_agenda("Naloxone", None, None, 2)
    assert s.warnings == ["presenter_missing"]
    s.set_agenda("Naloxone", "Dr. B", {1: uuid.uuid4()}, 2)
    assert s.warnings == [] and s.free_slot(2) == 2
    with pytest.raises(InvalidAgenda):
        s.set_agenda("Naloxone", "Dr. B", {3: uuid.uuid4()}, 2)
    case = uuid.uuid4()
    with pytest.raises(CaseAlreadyScheduled):
        s.set_agenda("Naloxone", "Dr. B", {1: case, 2: case}, 2)
