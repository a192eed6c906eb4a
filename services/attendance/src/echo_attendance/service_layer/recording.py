"""Recompute one attendance record and its credit from the stored segments (deterministic)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from echo_contracts import AttendanceRecorded, CreditAwarded, Event
from echo_contracts.events import AttendanceSource

from echo_attendance.adapters.repository import Row, SqlaAttendanceRepository, window_of
from echo_attendance.domain.model import CreditRule, attended_seconds, credit_id


async def refresh_record(
    repo: SqlaAttendanceRepository,
    session_row: Row,
    record: Row,
    source: str | None = None,
    rule: CreditRule | None = None,
    *,
    rule_known: bool = False,
) -> list[Event]:
    """Bring a locked record up to date; the events say what changed (nothing: no event).

    `rule`: the programme's credit rule when the caller has it (`rule_known`: even when None,
    no rule held then); otherwise it is read when a credit may change.
    """
    window = window_of(session_row)
    if window is None:
        return []
    computed = (
        record["override_seconds"]
        if record["override_seconds"] is not None
        else attended_seconds(await repo.edges(session_row["id"], record["attendee_key"]), window)
    )
    attended = min(computed, window.seconds)
    adjusted = record["override_seconds"] is not None
    new_source = source or record["source"]
    changed = record["revision"] == 0 or (
        attended != record["attended_seconds"]
        or window.seconds != record["session_seconds"]
        or adjusted != record["adjusted"]
    )
    events: list[Event] = []
    if changed:
        revision = record["revision"] + 1
        await repo.update_record(
            record["id"],
            attended_seconds=attended,
            session_seconds=window.seconds,
            adjusted=adjusted,
            source=new_source,
            revision=revision,
        )
        participant = record["participant_id"]
        events.append(
            AttendanceRecorded(
                attendance_id=record["id"],
                session_id=session_row["id"],
                programme_id=session_row["programme_id"],
                participant_id=participant,
                guest=participant is None,
                guest_id=record.get("guest_id"),
                attended_seconds=attended,
                session_seconds=window.seconds,
                source=AttendanceSource(new_source),
                adjusted=adjusted,
                revision=revision,
            )
        )
    # A first join with nothing attended yet cannot change any credit: skip the lookups.
    nothing_yet = record["revision"] == 0 and attended == 0
    if record["participant_id"] is not None and not nothing_yet:
        if rule is None and not rule_known:
            rule = await repo.rule(session_row["programme_id"])
        events.extend(
            await refresh_credit(
                repo,
                rule,
                participant_id=_uuid(record["participant_id"]),
                session_row=session_row,
                attended=attended,
                session_seconds=window.seconds,
            )
        )
    return events


async def refresh_credit(
    repo: SqlaAttendanceRepository,
    rule: CreditRule | None,
    *,
    participant_id: uuid.UUID,
    session_row: Row,
    attended: int,
    session_seconds: int,
) -> list[Event]:
    """Apply the programme's rule; a change of hours is a `CreditAwarded` with its delta."""
    if rule is None:
        return []
    hours = rule.hours(attended, session_seconds)
    current = await repo.credit(participant_id, session_row["id"])
    before = Decimal(current["hours"]) if current is not None else Decimal(0)
    if current is None and hours == 0:
        return []
    values: dict[str, Any] = {
        "id": credit_id(participant_id, session_row["id"]),
        "participant_id": participant_id,
        "programme_id": session_row["programme_id"],
        "session_id": session_row["id"],
        "hours": hours,
        "rule_version": rule.version,
    }
    if current is not None and before == hours:
        if current["rule_version"] != rule.version:
            # Same hours under the new rule: nothing to tell, but keep which rule holds them.
            await repo.save_credit(values, new=False)
        return []
    await repo.save_credit(values, new=current is None)
    return [
        CreditAwarded(
            credit_id=values["id"],
            participant_id=participant_id,
            programme_id=session_row["programme_id"],
            session_id=session_row["id"],
            hours=float(hours),
            delta_hours=float(hours - before),
            rule_version=rule.version,
        )
    ]


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
