"""Use cases on credit: versioned rules per programme, recomputation, certificates."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from echo_contracts import CertificateIssued, CreditAwarded, Event
from echo_runtime.logging import get_logger
from echo_runtime.service import ServiceRuntime

from echo_attendance.adapters.repository import Row, SqlaAttendanceRepository
from echo_attendance.domain.certificate import Certificate, CertificateLine
from echo_attendance.domain.model import (
    CreditRule,
    NoCreditYet,
    ParticipantNotFound,
    ProgrammeNotFound,
    certificate_id,
    verification_code,
)
from echo_attendance.service_layer.recording import refresh_record
from echo_attendance.settings import AttendanceSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class ChangeCreditRule:
    programme_id: uuid.UUID
    min_percent: int
    rounding_hours: Decimal
    actor: str


@dataclass(frozen=True)
class Recomputation:
    rule: CreditRule
    events: list[Event]

    @property
    def credit_changes(self) -> list[CreditAwarded]:
        return [e for e in self.events if isinstance(e, CreditAwarded)]


async def change_credit_rule(runtime: ServiceRuntime, cmd: ChangeCreditRule) -> Recomputation:
    """Add a new version of a programme's rule and recompute its credits from the segments."""
    async with runtime.db.transaction() as session:
        repo = SqlaAttendanceRepository(session)
        programme = await repo.programme(cmd.programme_id)
        if programme is None:
            raise ProgrammeNotFound(f"no programme {cmd.programme_id} known here")
        current = await repo.rule(cmd.programme_id)
        rule = CreditRule(
            (current.version if current else 0) + 1, cmd.min_percent, cmd.rounding_hours
        )
        await repo.add_rule(cmd.programme_id, rule, cmd.actor)
        events = await _recompute(repo, cmd.programme_id, rule)
        if events:
            await runtime.emit(session, programme["region"], *events)
    log.info("credit_rule_changed", programme_id=str(cmd.programme_id), events=len(events))
    return Recomputation(rule, events)


async def recompute_programme(runtime: ServiceRuntime, programme_id: uuid.UUID) -> Recomputation:
    """Recompute every record and credit of a programme under its current rule."""
    async with runtime.db.transaction() as session:
        repo = SqlaAttendanceRepository(session)
        programme = await repo.programme(programme_id)
        rule = await repo.rule(programme_id)
        if programme is None or rule is None:
            raise ProgrammeNotFound(f"no programme {programme_id} known here")
        events = await _recompute(repo, programme_id, rule)
        if events:
            await runtime.emit(session, programme["region"], *events)
    return Recomputation(rule, events)


async def _recompute(
    repo: SqlaAttendanceRepository, programme_id: uuid.UUID, rule: CreditRule
) -> list[Event]:
    events: list[Event] = []
    sessions: dict[Any, Row | None] = {}
    for record in await repo.records_of_programme(programme_id):
        sid = record["session_id"]
        if sid not in sessions:
            sessions[sid] = await repo.session_row(sid)
        row = sessions[sid]
        if row is not None:
            events.extend(await refresh_record(repo, row, record, rule=rule))
    return events


async def issue_certificate(
    runtime: ServiceRuntime,
    settings: AttendanceSettings,
    participant_id: uuid.UUID,
    programme_id: uuid.UUID,
) -> Certificate:
    """The participant's certificate for a programme; issued (and announced) when hours change."""
    async with runtime.db.transaction() as session:
        repo = SqlaAttendanceRepository(session)
        person = await repo.participant(participant_id)
        if person is None:
            raise ParticipantNotFound(f"no participant {participant_id}")
        programme = await repo.programme(programme_id)
        if programme is None:
            raise ProgrammeNotFound(f"no programme {programme_id} known here")
        title = await repo.title(programme_id)
        rows, _ = await repo.credits_of(participant_id, programme_id, 10_000, 0)
        lines = [
            CertificateLine(
                starts_at=r["starts_at"],
                attended_seconds=int(r["attended_seconds"] or 0),
                hours=Decimal(r["hours"]).normalize(),
                adjusted=bool(r["adjusted"]),
            )
            for r in rows
            if Decimal(r["hours"]) > 0 and r["starts_at"] is not None
        ]
        total = sum((line.hours for line in lines), Decimal(0)).normalize()
        if total <= 0:
            raise NoCreditYet(
                "no credit has been earned in this programme yet; a certificate is issued"
                " once a session meets the programme's credit rule"
            )
        cert_id = certificate_id(participant_id, programme_id)
        code = verification_code(settings.certificate_secret, cert_id, total)
        existing = await repo.certificate(participant_id, programme_id)
        if existing is None or Decimal(existing["hours"]) != total:
            issued_at = datetime.now(UTC)
            await repo.save_certificate(
                {
                    "id": cert_id,
                    "participant_id": participant_id,
                    "programme_id": programme_id,
                    "hours": total,
                    "verification_code": code,
                    "issued_at": issued_at,
                },
                new=existing is None,
            )
            await runtime.emit(
                session,
                programme["region"],
                CertificateIssued(
                    certificate_id=cert_id,
                    participant_id=participant_id,
                    programme_id=programme_id,
                    hours=float(total),
                ),
            )
        else:
            issued_at = existing["issued_at"]
    return Certificate(
        id=cert_id,
        participant_name=person["name"],
        participant_email=person["email"],
        profession=person["profession"],
        clinic=person["clinic"],
        programme_id=programme_id,
        programme_title=title or f"Programme {programme_id}",
        lines=lines,
        hours=total,
        verification_code=code,
        issued_at=issued_at,
        accreditation_statement=settings.accreditation_statement,
    )
