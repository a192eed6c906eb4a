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
    EvaluationOpened,
    EvaluationScore,
    EvaluationSubmitted,
    MaterialAdded,
    MaterialKind,
    MaterialRemoved,
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
        guest_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        aid = ids(f"attendance:{key or f'{person or guest_id}:{sid}'}")
        self.add(
            AttendanceRecorded(
                attendance_id=aid,
                session_id=sid,
                programme_id=programme_id,
                participant_id=person,
                guest=person is None,
                guest_id=guest_id,
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

    def evaluation_opened(
        self, sid: uuid.UUID, programme_id: uuid.UUID, region: str, invited: int
    ) -> None:
        self.add(
            EvaluationOpened(
                session_id=sid,
                programme_id=programme_id,
                form_version=1,
                invited=invited,
                closes_at=self.clock + timedelta(days=7),
            ),
            region,
        )

    def evaluation_answer(
        self,
        name: str,
        sid: uuid.UUID,
        programme_id: uuid.UUID,
        region: str,
        scores: dict[str, int],
        *,
        comment: bool = False,
    ) -> None:
        """One answer; `scores` maps a question kind to its value (question code = the kind)."""
        self.add(
            EvaluationSubmitted(
                response_id=ids(f"response:{name}"),
                session_id=sid,
                programme_id=programme_id,
                form_version=1,
                scores=[
                    EvaluationScore(question=kind.replace("_", "-"), kind=kind, value=value)
                    for kind, value in scores.items()
                ],
                has_comment=comment,
            ),
            region,
        )

    def material(
        self,
        name: str,
        programme_id: uuid.UUID,
        region: str,
        kind: MaterialKind,
        session_id: uuid.UUID | None = None,
        *,
        removed: bool = False,
    ) -> None:
        mid = ids(f"material:{name}")
        self.add(
            MaterialAdded(
                material_id=mid,
                programme_id=programme_id,
                session_id=session_id,
                kind=kind,
                language="en",
                size_bytes=1024,
            ),
            region,
        )
        if removed:
            self.add(
                MaterialRemoved(
                    material_id=mid, programme_id=programme_id, session_id=session_id, kind=kind
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


COPD = ids("programme:copd northern ireland")
COPD_SESSIONS = [ids(f"session:copd{i}") for i in range(3)]


def full_scenario() -> Scenario:
    """The seeded scenario plus a programme with surveys, guests and a library (hand-counted).

    COPD Northern Ireland: 3 held sessions; 8 registered participants and 2 guests attend
    (7 + 8 + 4 = 19 attendances, 4 of them by guests); 6 + 6 + 3 = 15 invited to the surveys,
    3 + 3 + 1 = 7 answers; the library keeps slides, a document and 2 recordings (a link was
    removed). The numbers each answer gives are in `EVALUATION_ANSWERS`.
    """
    sc = seeded_scenario()
    region = "northern-ireland"
    t = datetime(2025, 3, 4, 17, 0, tzinfo=UTC)
    copd = sc.programme("copd northern ireland", region, date(2025, 3, 4))
    assert copd == COPD
    sessions = [sc.session(f"copd{i}", copd, region, t + timedelta(weeks=i)) for i in range(3)]
    people = [
        sc.participant(f"ni{i}", region, f"clinic {i % 3}", Profession.PHYSICIAN) for i in range(8)
    ]
    for who in people:
        sc.register(who, copd, region, datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    g1, g2 = ids("guest:g1"), ids("guest:g2")
    attending = {
        0: ([0, 1, 2, 3, 4, 5], [g1]),
        1: ([0, 1, 2, 3, 6, 7], [g1, g2]),
        2: ([0, 1, 2], [g2]),
    }
    for i, (registered, guests) in attending.items():
        for n in registered:
            sc.attend(people[n][0], sessions[i], copd, region)
        for guest in guests:
            sc.attend(None, sessions[i], copd, region, guest_id=guest)
    for i, invited in enumerate((6, 6, 3)):
        sc.evaluation_opened(sessions[i], copd, region, invited)
    for name, (i, scores, comment) in EVALUATION_ANSWERS.items():
        sc.evaluation_answer(name, sessions[i], copd, region, scores, comment=comment)
    sc.material("slides", copd, region, MaterialKind.SLIDES, sessions[0])
    sc.material("guide", copd, region, MaterialKind.DOCUMENT)
    sc.material("link", copd, region, MaterialKind.LINK, removed=True)
    sc.material("rec0", copd, region, MaterialKind.RECORDING, sessions[0])
    sc.material("rec1", copd, region, MaterialKind.RECORDING, sessions[1])
    return sc


S, R, CB, CA, IC = (
    "satisfaction",
    "relevance",
    "confidence_before",
    "confidence_after",
    "intent_to_change",
)
#: answer name: (session index, scores by kind, has a comment)
EVALUATION_ANSWERS: dict[str, tuple[int, dict[str, int], bool]] = {
    "r1": (0, {S: 5, R: 4, CB: 2, CA: 4, IC: 5}, True),
    "r2": (0, {S: 4, R: 4, CB: 3, CA: 4, IC: 4}, False),
    # A comment question's score is not a number to average: left out of every mean.
    "r3": (0, {S: 3, R: 5, CB: 3, CA: 3, IC: 2, "comment": 1}, True),
    "r4": (1, {S: 5, R: 5, CB: 1, CA: 3, IC: 5}, False),
    "r5": (1, {S: 4, R: 3, CB: 2, CA: 4, IC: 3}, True),
    "r6": (1, {S: 5, R: 4, IC: 4}, False),
    "r7": (2, {S: 2, R: 2, CB: 4, CA: 5, IC: 5}, False),
}
