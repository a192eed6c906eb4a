"""Building envelopes of a made-up network: programmes, sessions, people, cases, credits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from echo_contracts import Envelope, Event, new_envelope
from echo_contracts.events import (
    AttendanceRecorded,
    AttendanceSource,
    CaseApproved,
    CasePresented,
    CaseRejected,
    CaseScheduled,
    CaseSubmitted,
    CertificateIssued,
    CreditAwarded,
    ParticipantRegistered,
    Profession,
    ProgrammeCreated,
    ProgrammeProfileUpdated,
    RecommendationsIssued,
    RegistrationConfirmed,
    SessionCancelled,
    SessionRescheduled,
    SessionScheduled,
)

SERVICE_OF = {
    "scheduling": "scheduling",
    "cases": "cases",
    "attendance": "attendance",
}


def ids(seed: str) -> uuid.UUID:
    """A stable id from a readable name (golden files stay stable)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"echo-test:{seed}")


@dataclass
class Scenario:
    """Envelopes in causal order, each with a chosen event time."""

    envelopes: list[Envelope[Any]] = field(default_factory=list)
    clock: datetime = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

    def add(self, data: Event, region: str, at: datetime | None = None) -> Envelope[Any]:
        when = at or self.clock
        env = new_envelope(data, region=region, service=type(data).context)
        env = env.model_copy(update={"time": when, "id": ids(f"event:{len(self.envelopes)}")})
        self.envelopes.append(env)
        self.clock = max(self.clock, when) + timedelta(seconds=1)
        return env

    def programme(
        self, name: str, region: str, starts_on: date, *, title: str | None = None
    ) -> uuid.UUID:
        pid = ids(f"programme:{name}")
        self.add(
            ProgrammeCreated(
                programme_id=pid,
                region=region,
                language="en",
                timezone="UTC",
                session_minutes=90,
                starts_on=starts_on,
            ),
            region,
        )
        self.add(ProgrammeProfileUpdated(programme_id=pid, title=title or name.title()), region)
        return pid

    def session(
        self,
        name: str,
        programme_id: uuid.UUID,
        region: str,
        starts_at: datetime,
        minutes: int = 90,
    ) -> uuid.UUID:
        sid = ids(f"session:{name}")
        self.add(
            SessionScheduled(
                session_id=sid,
                programme_id=programme_id,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=minutes),
                timezone="UTC",
            ),
            region,
        )
        return sid

    def reschedule(
        self,
        sid: uuid.UUID,
        programme_id: uuid.UUID,
        region: str,
        old: datetime,
        new: datetime,
        sequence: int = 1,
        minutes: int = 90,
    ) -> None:
        self.add(
            SessionRescheduled(
                session_id=sid,
                programme_id=programme_id,
                previous_starts_at=old,
                starts_at=new,
                ends_at=new + timedelta(minutes=minutes),
                timezone="UTC",
                sequence=sequence,
            ),
            region,
        )

    def cancel(
        self,
        sid: uuid.UUID,
        programme_id: uuid.UUID,
        region: str,
        starts_at: datetime,
        sequence: int = 1,
    ) -> None:
        self.add(
            SessionCancelled(
                session_id=sid, programme_id=programme_id, starts_at=starts_at, sequence=sequence
            ),
            region,
        )

    def participant(
        self, name: str, region: str, clinic: str, profession: Profession
    ) -> tuple[uuid.UUID, uuid.UUID, Profession]:
        person, clinic_id = ids(f"participant:{name}"), ids(f"clinic:{clinic}")
        self.add(
            ParticipantRegistered(
                participant_id=person,
                name=name.title(),
                email=f"{name}@example.org",
                profession=profession,
                clinic=clinic.title(),
                clinic_id=clinic_id,
                language="en",
            ),
            region,
        )
        return person, clinic_id, profession

    def register(
        self,
        who: tuple[uuid.UUID, uuid.UUID, Profession],
        programme_id: uuid.UUID,
        region: str,
        at: datetime | None = None,
    ) -> None:
        person, clinic_id, profession = who
        self.add(
            RegistrationConfirmed(
                registration_id=ids(f"registration:{person}:{programme_id}"),
                participant_id=person,
                programme_id=programme_id,
                clinic_id=clinic_id,
                profession=profession,
            ),
            region,
            at,
        )

    def attend(
        self,
        person: uuid.UUID | None,
        sid: uuid.UUID,
        programme_id: uuid.UUID,
        region: str,
        seconds: int = 5400,
        revision: int = 1,
        key: str | None = None,
    ) -> uuid.UUID:
        aid = ids(f"attendance:{key or f'{person}:{sid}'}")
        self.add(
            AttendanceRecorded(
                attendance_id=aid,
                session_id=sid,
                programme_id=programme_id,
                participant_id=person,
                guest=person is None,
                attended_seconds=seconds,
                session_seconds=5400,
                source=AttendanceSource.ZOOM,
                revision=revision,
            ),
            region,
        )
        return aid

    def case(
        self,
        name: str,
        programme_id: uuid.UUID,
        region: str,
        presenter: uuid.UUID,
        stages: tuple[str, ...],
        session_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        cid = ids(f"case:{name}")
        hub = ids("hub-member")
        self.add(
            CaseSubmitted(
                case_id=cid,
                programme_id=programme_id,
                presenter_id=presenter,
                template_id="standard",
                template_version=1,
            ),
            region,
        )
        for stage in stages:
            data: Event
            if stage == "approved":
                data = CaseApproved(
                    case_id=cid, programme_id=programme_id, presenter_id=presenter, approved_by=hub
                )
            elif stage == "rejected":
                data = CaseRejected(
                    case_id=cid,
                    programme_id=programme_id,
                    presenter_id=presenter,
                    rejected_by=hub,
                    reason="needs a clearer question",
                )
            elif stage == "scheduled":
                assert session_id is not None
                data = CaseScheduled(
                    case_id=cid, programme_id=programme_id, session_id=session_id, slot=1
                )
            elif stage == "presented":
                assert session_id is not None
                data = CasePresented(case_id=cid, programme_id=programme_id, session_id=session_id)
            elif stage == "recommendations":
                data = RecommendationsIssued(
                    case_id=cid, programme_id=programme_id, presenter_id=presenter, issued_by=hub
                )
            else:
                raise ValueError(stage)
            self.add(data, region)
        return cid

    def credit(
        self,
        person: uuid.UUID,
        sid: uuid.UUID,
        programme_id: uuid.UUID,
        region: str,
        hours: float,
        rule_version: int = 1,
        previous: float = 0.0,
    ) -> None:
        self.add(
            CreditAwarded(
                credit_id=ids(f"credit:{person}:{sid}"),
                participant_id=person,
                programme_id=programme_id,
                session_id=sid,
                hours=hours,
                delta_hours=hours - previous,
                rule_version=rule_version,
            ),
            region,
        )

    def certificate(
        self, person: uuid.UUID, programme_id: uuid.UUID, region: str, hours: float
    ) -> None:
        self.add(
            CertificateIssued(
                certificate_id=ids(f"certificate:{person}:{programme_id}"),
                participant_id=person,
                programme_id=programme_id,
                hours=hours,
            ),
            region,
        )


def seeded_scenario() -> Scenario:
    """The golden scenario: two regions, three programmes, every metric exercised."""
    sc = Scenario()
    t = datetime(2025, 1, 7, 17, 0, tzinfo=UTC)
    hep = sc.programme("hepatitis c ontario", "ontario", date(2025, 1, 7))
    pain = sc.programme("chronic pain ontario", "ontario", date(2025, 2, 4))
    dia = sc.programme("diabetes shanghai", "shanghai", date(2025, 1, 8))

    hep_sessions = [sc.session(f"hep{i}", hep, "ontario", t + timedelta(weeks=i)) for i in range(4)]
    pain_sessions = [
        sc.session(f"pain{i}", pain, "ontario", t + timedelta(weeks=4 + i)) for i in range(3)
    ]
    dia_sessions = [
        sc.session(f"dia{i}", dia, "shanghai", t + timedelta(days=1, weeks=i), minutes=120)
        for i in range(3)
    ]
    # hep3 moves a week later (still February); pain2 is cancelled; dia2 is in the far future.
    sc.reschedule(
        hep_sessions[3], hep, "ontario", t + timedelta(weeks=3), t + timedelta(weeks=4, days=2)
    )
    sc.cancel(pain_sessions[2], pain, "ontario", t + timedelta(weeks=6))
    sc.reschedule(
        dia_sessions[2],
        dia,
        "shanghai",
        t + timedelta(days=1, weeks=2),
        datetime(2099, 1, 1, 6, 0, tzinfo=UTC),
        minutes=120,
    )

    ann = sc.participant("ann", "ontario", "north clinic", Profession.PHYSICIAN)
    bob = sc.participant("bob", "ontario", "north clinic", Profession.NURSE)
    cat = sc.participant("cat", "ontario", "lake clinic", Profession.PHARMACIST)
    dan = sc.participant("dan", "shanghai", "east clinic", Profession.PHYSICIAN)
    eve = sc.participant("eve", "shanghai", "west clinic", Profession.NURSE_PRACTITIONER)
    jan6 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
    for who in (ann, bob, cat):
        sc.register(who, hep, "ontario", jan6)
    sc.register(ann, pain, "ontario", datetime(2025, 2, 1, 12, 0, tzinfo=UTC))
    sc.register(dan, dia, "shanghai", jan6)
    sc.register(eve, dia, "shanghai", jan6)

    # Hepatitis: ann attends all 4, bob 2 (retained), cat 1 (not), plus one guest.
    for sid in hep_sessions:
        sc.attend(ann[0], sid, hep, "ontario")
    for sid in hep_sessions[:2]:
        sc.attend(bob[0], sid, hep, "ontario")
    # cat's first record is revised down to 0 seconds, then a later session counts.
    sc.attend(cat[0], hep_sessions[0], hep, "ontario", seconds=600)
    sc.attend(cat[0], hep_sessions[0], hep, "ontario", seconds=0, revision=2)
    sc.attend(cat[0], hep_sessions[2], hep, "ontario")
    sc.attend(None, hep_sessions[1], hep, "ontario", key="guest-hep1")
    # Pain: ann attends both held sessions.
    for sid in pain_sessions[:2]:
        sc.attend(ann[0], sid, pain, "ontario")
    # Diabetes: dan attends both held sessions, eve none.
    for sid in dia_sessions[:2]:
        sc.attend(dan[0], sid, dia, "shanghai")

    sc.case(
        "c1",
        hep,
        "ontario",
        ann[0],
        ("approved", "scheduled", "presented", "recommendations"),
        hep_sessions[1],
    )
    sc.case("c2", hep, "ontario", bob[0], ("rejected",))
    sc.case("c3", pain, "ontario", ann[0], ("approved",))
    sc.case("c4", dia, "shanghai", dan[0], ("approved", "scheduled", "presented"), dia_sessions[1])

    for sid in hep_sessions:
        sc.credit(ann[0], sid, hep, "ontario", 1.5)
    sc.credit(bob[0], hep_sessions[0], hep, "ontario", 1.5)
    sc.credit(bob[0], hep_sessions[0], hep, "ontario", 1.25, rule_version=2, previous=1.5)
    for sid in dia_sessions[:2]:
        sc.credit(dan[0], sid, dia, "shanghai", 2.0)
    sc.certificate(ann[0], hep, "ontario", 6.0)
    return sc
