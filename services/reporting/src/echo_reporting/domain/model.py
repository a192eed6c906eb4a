"""Read models as plain rows, and the one reducer that folds events into them.

Every row is keyed by the id of the aggregate an event is about, and every merge is
commutative and idempotent (latest by a stamp, earliest time per stage, a flag that only turns
on), so replaying the same events twice or in another order within each aggregate gives the same
rows. Regional events may only fill the regional fields listed in `REGIONAL_FIELDS`; the network
view strips them (`network_only`), so superhub numbers come from `network` events alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from echo_contracts import Envelope, Residency
from echo_contracts.events import (
    AttendanceRecorded,
    CaseApproved,
    CasePresented,
    CaseRejected,
    CaseScheduled,
    CaseSubmitted,
    CertificateIssued,
    CreditAwarded,
    EvaluationOpened,
    EvaluationSubmitted,
    MaterialAdded,
    MaterialRemoved,
    ParticipantRegistered,
    ProgrammeCreated,
    ProgrammeProfileUpdated,
    RecommendationsIssued,
    RegistrationConfirmed,
    SessionCancelled,
    SessionRescheduled,
    SessionScheduled,
)

Row = dict[str, Any]

KINDS = (
    "programmes",
    "sessions",
    "participants",
    "registrations",
    "attendance",
    "cases",
    "credits",
    "certificates",
    "evaluations",
    "responses",
    "materials",
)

#: Fields that regional events fill; the network view never sees them.
REGIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "programmes": ("title", "title_stamp"),
    "cases": ("rejected_at",),
    "participants": ("profession", "clinic_id", "stamp"),
}

#: Columns of each row kind, with the value of a row nobody has written yet.
COLUMNS: dict[str, dict[str, Any]] = {
    "programmes": {
        "region": None,
        "created": False,
        "created_stamp": "",
        "session_minutes": None,
        "starts_on": None,
        "ends_on": None,
        "title": None,
        "title_stamp": "",
    },
    "sessions": {
        "programme_id": None,
        "region": None,
        "starts_at": None,
        "ends_at": None,
        "time_stamp": "",
        "cancelled": False,
    },
    "participants": {"region": None, "profession": None, "clinic_id": None, "stamp": ""},
    "registrations": {
        "region": None,
        "participant_id": None,
        "programme_id": None,
        "clinic_id": None,
        "profession": None,
        "registered_at": None,
        "stamp": "",
    },
    "attendance": {
        "region": None,
        "session_id": None,
        "programme_id": None,
        "participant_id": None,
        "guest": False,
        "guest_id": None,
        "attended_seconds": 0,
        "session_seconds": 0,
        "stamp": "",
    },
    "cases": {
        "region": None,
        "programme_id": None,
        "submitted_at": None,
        "approved_at": None,
        "rejected_at": None,
        "scheduled_at": None,
        "presented_at": None,
        "recommendations_at": None,
    },
    "credits": {
        "region": None,
        "participant_id": None,
        "programme_id": None,
        "session_id": None,
        "hours": 0.0,
        "awarded_at": None,
        "stamp": "",
    },
    "certificates": {
        "region": None,
        "participant_id": None,
        "programme_id": None,
        "hours": 0.0,
        "issued_at": None,
        "stamp": "",
    },
    # One per session (EvaluationOpened is about the session): its latest survey.
    "evaluations": {
        "region": None,
        "programme_id": None,
        "form_version": None,
        "invited": 0,
        "closes_at": None,
        "opened_at": None,
        "stamp": "",
    },
    # One per survey answer: `scores` is a list of [question code, kind, value 1..5].
    "responses": {
        "region": None,
        "session_id": None,
        "programme_id": None,
        "form_version": None,
        "scores": (),
        "has_comment": False,
        "submitted_at": None,
        "stamp": "",
    },
    # One per library item: counted while added and not removed.
    "materials": {
        "region": None,
        "programme_id": None,
        "session_id": None,
        "kind": None,
        "added_at": None,
        "removed_at": None,
    },
}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def stamp(order: int, env: Envelope[Any]) -> str:
    """A string that sorts events of one aggregate: by `order` (sequence, revision), time, id."""
    micros = (env.time - _EPOCH) // _MICROSECOND
    return f"{order:010d}|{micros:017d}|{env.id}"


def _earliest(current: datetime | None, new: datetime) -> datetime:
    return new if current is None or new < current else current


def new_row(kind: str, key: uuid.UUID) -> Row:
    """An empty row of `kind` for aggregate `key`."""
    return {"id": key, **COLUMNS[kind]}


# --------------------------------------------------------------------------- merges


def _programme_created(row: Row, env: Envelope[Any]) -> None:
    data: ProgrammeCreated = env.data
    s = stamp(0, env)
    if s > row["created_stamp"]:
        row.update(
            region=data.region,
            created=True,
            created_stamp=s,
            session_minutes=data.session_minutes,
            starts_on=data.starts_on,
            ends_on=data.ends_on,
        )


def _programme_profile(row: Row, env: Envelope[Any]) -> None:
    data: ProgrammeProfileUpdated = env.data
    s = stamp(0, env)
    if s > row["title_stamp"]:
        row.update(title=data.title, title_stamp=s)
    if row["region"] is None:
        row["region"] = env.region


def _session_times(row: Row, env: Envelope[Any]) -> None:
    data: SessionScheduled | SessionRescheduled = env.data
    row["programme_id"] = data.programme_id
    s = stamp(data.sequence, env)
    if s > row["time_stamp"]:
        row.update(starts_at=data.starts_at, ends_at=data.ends_at, time_stamp=s)


def _session_cancelled(row: Row, env: Envelope[Any]) -> None:
    data: SessionCancelled = env.data
    row["programme_id"] = data.programme_id
    row["cancelled"] = True
    if row["starts_at"] is None:
        # Until the schedule arrives (it wins: its stamp beats ""), place it at its start.
        row.update(starts_at=data.starts_at, ends_at=data.starts_at)


def _participant(row: Row, env: Envelope[Any]) -> None:
    data: ParticipantRegistered = env.data
    s = stamp(0, env)
    if s > row["stamp"]:
        row.update(profession=data.profession.value, clinic_id=data.clinic_id, stamp=s)


def _registration(row: Row, env: Envelope[Any]) -> None:
    data: RegistrationConfirmed = env.data
    s = stamp(0, env)
    if s > row["stamp"]:
        row.update(
            participant_id=data.participant_id,
            programme_id=data.programme_id,
            clinic_id=data.clinic_id,
            profession=data.profession.value,
            registered_at=env.time,
            stamp=s,
        )


def _attendance(row: Row, env: Envelope[Any]) -> None:
    data: AttendanceRecorded = env.data
    s = stamp(data.revision, env)
    if s > row["stamp"]:
        row.update(
            session_id=data.session_id,
            programme_id=data.programme_id,
            participant_id=data.participant_id,
            guest=data.guest,
            guest_id=data.guest_id,
            attended_seconds=data.attended_seconds,
            session_seconds=data.session_seconds,
            stamp=s,
        )


def _case_stage(stage: str) -> Callable[[Row, Envelope[Any]], None]:
    def merge(row: Row, env: Envelope[Any]) -> None:
        row[stage] = _earliest(row[stage], env.time)
        row["programme_id"] = env.data.programme_id

    return merge


def _credit(row: Row, env: Envelope[Any]) -> None:
    data: CreditAwarded = env.data
    s = stamp(data.rule_version, env)
    row["awarded_at"] = _earliest(row["awarded_at"], env.time)
    if s > row["stamp"]:
        row.update(
            participant_id=data.participant_id,
            programme_id=data.programme_id,
            session_id=data.session_id,
            hours=data.hours,
            stamp=s,
        )


def _certificate(row: Row, env: Envelope[Any]) -> None:
    data: CertificateIssued = env.data
    s = stamp(0, env)
    row["issued_at"] = _earliest(row["issued_at"], env.time)
    if s > row["stamp"]:
        row.update(
            participant_id=data.participant_id,
            programme_id=data.programme_id,
            hours=data.hours,
            stamp=s,
        )


def _evaluation_opened(row: Row, env: Envelope[Any]) -> None:
    data: EvaluationOpened = env.data
    row["programme_id"] = data.programme_id
    row["opened_at"] = _earliest(row["opened_at"], env.time)
    s = stamp(data.form_version, env)
    if s > row["stamp"]:
        row.update(
            form_version=data.form_version, invited=data.invited, closes_at=data.closes_at, stamp=s
        )


def _evaluation_submitted(row: Row, env: Envelope[Any]) -> None:
    data: EvaluationSubmitted = env.data
    row["submitted_at"] = _earliest(row["submitted_at"], env.time)
    s = stamp(data.form_version, env)
    if s > row["stamp"]:
        row.update(
            session_id=data.session_id,
            programme_id=data.programme_id,
            form_version=data.form_version,
            # Lists (not tuples) so that rows read back from the JSON column compare equal.
            scores=[[score.question, score.kind.value, score.value] for score in data.scores],
            has_comment=data.has_comment,
            stamp=s,
        )


def _material_added(row: Row, env: Envelope[Any]) -> None:
    data: MaterialAdded = env.data
    row.update(programme_id=data.programme_id, kind=data.kind.value)
    if data.session_id is not None:
        row["session_id"] = data.session_id
    row["added_at"] = _earliest(row["added_at"], env.time)


def _material_removed(row: Row, env: Envelope[Any]) -> None:
    data: MaterialRemoved = env.data
    row.update(programme_id=data.programme_id, kind=data.kind.value)
    if data.session_id is not None:
        row["session_id"] = data.session_id
    row["removed_at"] = _earliest(row["removed_at"], env.time)


@dataclass(frozen=True)
class Projector:
    kind: str
    key: Callable[[Any], uuid.UUID]
    merge: Callable[[Row, Envelope[Any]], None]


PROJECTORS: dict[type[Any], Projector] = {
    ProgrammeCreated: Projector("programmes", lambda d: d.programme_id, _programme_created),
    ProgrammeProfileUpdated: Projector("programmes", lambda d: d.programme_id, _programme_profile),
    SessionScheduled: Projector("sessions", lambda d: d.session_id, _session_times),
    SessionRescheduled: Projector("sessions", lambda d: d.session_id, _session_times),
    SessionCancelled: Projector("sessions", lambda d: d.session_id, _session_cancelled),
    ParticipantRegistered: Projector("participants", lambda d: d.participant_id, _participant),
    RegistrationConfirmed: Projector("registrations", lambda d: d.registration_id, _registration),
    AttendanceRecorded: Projector("attendance", lambda d: d.attendance_id, _attendance),
    CaseSubmitted: Projector("cases", lambda d: d.case_id, _case_stage("submitted_at")),
    CaseApproved: Projector("cases", lambda d: d.case_id, _case_stage("approved_at")),
    CaseRejected: Projector("cases", lambda d: d.case_id, _case_stage("rejected_at")),
    CaseScheduled: Projector("cases", lambda d: d.case_id, _case_stage("scheduled_at")),
    CasePresented: Projector("cases", lambda d: d.case_id, _case_stage("presented_at")),
    RecommendationsIssued: Projector(
        "cases", lambda d: d.case_id, _case_stage("recommendations_at")
    ),
    CreditAwarded: Projector("credits", lambda d: d.credit_id, _credit),
    CertificateIssued: Projector("certificates", lambda d: d.certificate_id, _certificate),
    EvaluationOpened: Projector("evaluations", lambda d: d.session_id, _evaluation_opened),
    EvaluationSubmitted: Projector("responses", lambda d: d.response_id, _evaluation_submitted),
    MaterialAdded: Projector("materials", lambda d: d.material_id, _material_added),
    MaterialRemoved: Projector("materials", lambda d: d.material_id, _material_removed),
}


def target(env: Envelope[Any]) -> tuple[str, uuid.UUID] | None:
    """The (kind, id) of the row an event changes; None for events reports do not use."""
    projector = PROJECTORS.get(type(env.data))
    if projector is None:
        return None
    return projector.kind, projector.key(env.data)


def merge(row: Row | None, env: Envelope[Any]) -> Row:
    """The row after applying `env` (a new dict; `row` is left untouched).

    Row values are immutable (ids, times, numbers, strings), so a shallow copy is a full one.
    """
    projector = PROJECTORS[type(env.data)]
    merged = dict(row) if row is not None else new_row(projector.kind, projector.key(env.data))
    regional = type(env.data).residency is Residency.REGIONAL
    before = dict(merged) if regional else merged
    projector.merge(merged, env)
    if merged["region"] is None:
        merged["region"] = env.region
    if regional:
        # Ids say where a row belongs; they carry nothing the network view could count.
        allowed = set(REGIONAL_FIELDS.get(projector.kind, ())) | {"region", "programme_id"}
        changed = {k for k in merged if merged[k] != before[k]}
        if not changed <= allowed:
            raise ValueError(f"regional event {env.type} may not set {sorted(changed - allowed)}")
    return merged


@dataclass
class ReadModel:
    """Every row of every kind, in memory: what a report is computed from."""

    rows: dict[str, dict[uuid.UUID, Row]] = field(default_factory=lambda: {k: {} for k in KINDS})

    def apply(self, env: Envelope[Any]) -> None:
        """Fold one event into the rows."""
        where = target(env)
        if where is None:
            return
        kind, key = where
        self.rows[kind][key] = merge(self.rows[kind].get(key), env)

    def network_only(self) -> ReadModel:
        """The same rows without anything only regional events could have told."""
        rows: dict[str, dict[uuid.UUID, Row]] = {k: {} for k in KINDS}
        for kind, table in self.rows.items():
            if kind == "participants":
                continue
            blank = {f: COLUMNS[kind][f] for f in REGIONAL_FIELDS.get(kind, ())}
            rows[kind] = {key: {**row, **blank} for key, row in table.items()}
        return ReadModel(rows)

    def where(self, predicate: Callable[[str, Row], bool]) -> ReadModel:
        """Only the rows for which `predicate(kind, row)` holds."""
        return ReadModel(
            {
                kind: {k: r for k, r in table.items() if predicate(kind, r)}
                for kind, table in self.rows.items()
            }
        )

    def in_region(self, region: str) -> ReadModel:
        return self.where(lambda _, r: r["region"] == region)

    def of_programme(self, programme_id: uuid.UUID) -> ReadModel:
        people = {
            r["participant_id"]
            for kind in ("registrations", "attendance")
            for r in self.rows[kind].values()
            if r["programme_id"] == programme_id
        }

        def keep(kind: str, row: Row) -> bool:
            if kind == "programmes":
                return bool(row["id"] == programme_id)
            if kind == "participants":
                return row["id"] in people
            return bool(row["programme_id"] == programme_id)

        return self.where(keep)

    def by_programme(self) -> dict[uuid.UUID, ReadModel]:
        """`of_programme` for every programme at once, in one pass over the rows.

        Rows without a programme belong to none; a participant goes to every programme whose
        registrations or attendance name them, as `of_programme` decides it.
        """
        parts: dict[uuid.UUID, ReadModel] = {}

        def part(key: uuid.UUID) -> ReadModel:
            if key not in parts:
                parts[key] = ReadModel()
            return parts[key]

        for key, row in self.rows["programmes"].items():
            part(key).rows["programmes"][key] = row
        people: dict[uuid.UUID, set[uuid.UUID]] = {}
        for kind, table in self.rows.items():
            if kind in ("programmes", "participants"):
                continue
            for key, row in table.items():
                pid = row["programme_id"]
                if pid is None:
                    continue
                part(pid).rows[kind][key] = row
                if kind in ("registrations", "attendance"):
                    people.setdefault(row["participant_id"], set()).add(pid)
        for key, row in self.rows["participants"].items():
            for pid in people.get(key, ()):
                part(pid).rows["participants"][key] = row
        return parts
