"""Event handlers: record who should get which message, and the reminder jobs, nothing more.

They run inside the consumer's transaction (with the inbox row), use only the given session,
and are idempotent: a delivery's id is derived from (cause event, recipient, template, channel),
so a redelivered event records nothing new. Sending is the dispatcher's job.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from echo_contracts import (
    AgendaUpdated,
    CaseApproved,
    CaseRejected,
    CaseSubmitted,
    CertificateIssued,
    Envelope,
    EvaluationRequested,
    Event,
    MaterialAdded,
    MaterialRemoved,
    ParticipantRegistered,
    ProgrammeCreated,
    ProgrammeProfileUpdated,
    RecommendationsIssued,
    RecommendationsRecorded,
    RegistrationConfirmed,
    SessionCancelled,
    SessionRescheduled,
    SessionScheduled,
)
from echo_contracts.events import MaterialKind
from echo_runtime.consumer import Handler
from echo_runtime.logging import get_logger
from sqlalchemy.ext.asyncio import AsyncSession

from echo_notifications.adapters.repository import SqlaNotificationRepository
from echo_notifications.domain.model import (
    RECOMMENDATIONS_SLOT,
    SESSION_TEMPLATES,
    ChannelKind,
    DeliveryStatus,
    Preferences,
    delivery_id,
    evaluation_cause_id,
    idempotency_key,
    recommendations_cause_id,
    recording_cause_id,
    reminders_for,
    staff_wants,
)

log = get_logger(__name__)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def delivery_rows(
    *,
    cause_event_id: uuid.UUID,
    recipients: Iterable[uuid.UUID],
    template: str,
    prefs: Mapping[uuid.UUID, Preferences],
    region: str,
    due_at: datetime,
    now: datetime,
    programme_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    params: dict[str, Any] | None = None,
    slot: str | None = None,
) -> list[dict[str, Any]]:
    """One pending delivery per recipient and preferred channel (email when none is set).

    `slot` replaces the template in the idempotency key when two templates are alternatives of
    one message (the recommendations with or without their text).
    """
    rows = []
    for recipient in recipients:
        chosen = prefs.get(recipient)
        channels = chosen.channels if chosen else [ChannelKind.EMAIL]
        for channel in channels:
            key = idempotency_key(cause_event_id, recipient, slot or template, channel.value)
            rows.append(
                {
                    "id": delivery_id(key),
                    "idempotency_key": key,
                    "cause_event_id": cause_event_id,
                    "recipient_id": recipient,
                    "region": region,
                    "programme_id": programme_id,
                    "session_id": session_id,
                    "template": template,
                    "channel": channel.value,
                    "params": params or {},
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": _utc(due_at),
                    "created_at": now,
                }
            )
    return rows


async def audience(
    repo: SqlaNotificationRepository,
    programme_id: uuid.UUID,
    template: str,
    *,
    participants: bool,
) -> list[uuid.UUID]:
    """Who gets `template` in a programme: its participants, and hub team members who opted in."""
    people = await repo.enrolled(programme_id) if participants else []
    staff = await repo.staff(programme_id)
    prefs = await repo.preferences_of(p for p, _ in staff)
    for person, role in staff:
        chosen = prefs.get(person)
        if person not in people and staff_wants(role, chosen.topics if chosen else None, template):
            people.append(person)
    return people


async def _notify(
    repo: SqlaNotificationRepository,
    env: Envelope[Any],
    template: str,
    recipients: list[uuid.UUID],
    *,
    programme_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    params: dict[str, Any] | None = None,
    cause_id: uuid.UUID | None = None,
    due_at: datetime | None = None,
    slot: str | None = None,
) -> None:
    if not recipients:
        return
    prefs = await repo.preferences_of(recipients)
    await repo.add_deliveries(
        delivery_rows(
            cause_event_id=cause_id or env.id,
            recipients=recipients,
            template=template,
            prefs=prefs,
            region=env.region,
            due_at=due_at or env.time,
            now=datetime.now(UTC),
            programme_id=programme_id,
            session_id=session_id,
            params=params,
            slot=slot,
        )
    )
    log.debug("deliveries_recorded", event_id=str(env.id), template=template, count=len(recipients))


# ---------------------------------------------------------------------- who is who


async def when_participant_registered_record_recipient(
    session: AsyncSession, env: Envelope[Any]
) -> None:
    """Keep the participant's name, address, language and time zone to write to them."""
    data: ParticipantRegistered = env.data
    await SqlaNotificationRepository(session).upsert_recipient(
        data.participant_id,
        region=env.region,
        kind="participant",
        name=data.name,
        email=data.email,
        language=data.language,
        timezone=data.timezone,
        at=env.time,
    )


async def when_programme_created_record_it(session: AsyncSession, env: Envelope[Any]) -> None:
    """Keep the programme's language and time zone (fallbacks for its participants)."""
    data: ProgrammeCreated = env.data
    await SqlaNotificationRepository(session).programme_created(
        data.programme_id, data.region, data.language, data.timezone
    )


async def when_programme_profile_updated_record_team(
    session: AsyncSession, env: Envelope[Any]
) -> None:
    """Keep the programme's title and its hub team members as recipients."""
    data: ProgrammeProfileUpdated = env.data
    repo = SqlaNotificationRepository(session)
    applied = await repo.set_profile(
        data.programme_id,
        region=env.region,
        title=data.title,
        staff=[(m.person_id, m.role.value) for m in data.hub_team],
        at=env.time,
    )
    if not applied:
        return
    programme = await repo.programme(data.programme_id)
    for member in data.hub_team:
        await repo.upsert_recipient(
            member.person_id,
            region=env.region,
            kind="staff",
            name=member.name,
            email=member.email,
            language=programme["language"] if programme else None,
            timezone=programme["timezone"] if programme else None,
            at=env.time,
        )


async def when_registration_confirmed_welcome_participant(
    session: AsyncSession, env: Envelope[Any]
) -> None:
    """Enrol the participant (for reminders) and confirm the registration to them."""
    data: RegistrationConfirmed = env.data
    repo = SqlaNotificationRepository(session)
    await repo.enrol(data.registration_id, data.participant_id, data.programme_id)
    await _notify(
        repo,
        env,
        "registration_confirmed",
        [data.participant_id],
        programme_id=data.programme_id,
    )


# ---------------------------------------------------------------------- sessions


def _snapshot(
    starts_at: datetime, ends_at: datetime | None, sequence: int, timezone: str | None
) -> dict[str, Any]:
    return {
        "starts_at": _utc(starts_at).isoformat(),
        "ends_at": _utc(ends_at).isoformat() if ends_at else None,
        "sequence": sequence,
        "timezone": timezone,
    }


async def when_session_scheduled_plan_reminders(session: AsyncSession, env: Envelope[Any]) -> None:
    """Store the session and its day-before and hour-before reminder jobs."""
    data: SessionScheduled = env.data
    repo = SqlaNotificationRepository(session)
    known = await repo.session_row(data.session_id)
    if known is not None and known["sequence"] >= data.sequence:
        return  # a later change (reschedule, cancel) is already applied
    await _plan_session(repo, env.region, data)


async def _plan_session(
    repo: SqlaNotificationRepository, region: str, data: SessionScheduled | SessionRescheduled
) -> datetime:
    """Store the session at its (new) time with fresh reminder jobs; return its start."""
    starts_at = _utc(data.starts_at)
    await repo.put_session(
        data.session_id,
        programme_id=data.programme_id,
        region=region,
        starts_at=starts_at,
        ends_at=_utc(data.ends_at),
        timezone=data.timezone,
        sequence=data.sequence,
        status="scheduled",
    )
    await repo.put_reminders(
        reminders_for(data.session_id, starts_at),
        programme_id=data.programme_id,
        region=region,
        starts_at=starts_at,
    )
    return starts_at


async def when_session_rescheduled_move_reminders_and_tell(
    session: AsyncSession, env: Envelope[Any]
) -> None:
    """Move the reminders to the new time and tell the participants (once per change)."""
    data: SessionRescheduled = env.data
    repo = SqlaNotificationRepository(session)
    known = await repo.session_row(data.session_id)
    if known is not None and known["sequence"] >= data.sequence:
        return  # stale: a newer change of this session is already applied
    await repo.cancel_pending(data.session_id, {"reminder_day_before", "reminder_hour_before"})
    starts_at = await _plan_session(repo, env.region, data)
    params = _snapshot(starts_at, data.ends_at, data.sequence, data.timezone)
    params["previous_starts_at"] = _utc(data.previous_starts_at).isoformat()
    await _notify(
        repo,
        env,
        "session_rescheduled",
        await audience(repo, data.programme_id, "session_rescheduled", participants=True),
        programme_id=data.programme_id,
        session_id=data.session_id,
        params=params,
    )


async def when_session_cancelled_drop_reminders_and_tell(
    session: AsyncSession, env: Envelope[Any]
) -> None:
    """Remove the session's reminders and tell the participants it is cancelled."""
    data: SessionCancelled = env.data
    repo = SqlaNotificationRepository(session)
    known = await repo.session_row(data.session_id)
    if known is not None and (known["status"] == "cancelled" or known["sequence"] > data.sequence):
        return
    starts_at = _utc(data.starts_at)
    await repo.put_session(
        data.session_id,
        programme_id=data.programme_id,
        region=env.region,
        starts_at=starts_at,
        ends_at=known["ends_at"] if known else None,
        timezone=known["timezone"] if known else None,
        sequence=data.sequence,
        status="cancelled",
    )
    await repo.drop_reminders(data.session_id)
    await repo.cancel_pending(data.session_id, SESSION_TEMPLATES - {"session_cancelled"})
    await _notify(
        repo,
        env,
        "session_cancelled",
        await audience(repo, data.programme_id, "session_cancelled", participants=True),
        programme_id=data.programme_id,
        session_id=data.session_id,
        params=_snapshot(
            starts_at,
            known["ends_at"] if known else None,
            data.sequence,
            known["timezone"] if known else None,
        ),
    )


async def when_agenda_updated_keep_it_for_reminders(
    session: AsyncSession, env: Envelope[Any]
) -> None:
    """Keep the latest agenda; the day-before reminder quotes it."""
    data: AgendaUpdated = env.data
    await SqlaNotificationRepository(session).set_agenda(
        data.session_id,
        topic=data.didactic_topic,
        presenter=data.presenter_name,
        cases=sum(1 for slot in data.case_slots if slot.case_id is not None),
        at=env.time,
    )


# ---------------------------------------------------------------------- cases and credit


async def when_case_submitted_tell_reviewers(session: AsyncSession, env: Envelope[Any]) -> None:
    """Tell the hub team members who review cases (or opted in) that a case waits."""
    data: CaseSubmitted = env.data
    repo = SqlaNotificationRepository(session)
    await _notify(
        repo,
        env,
        "case_submitted",
        await audience(repo, data.programme_id, "case_submitted", participants=False),
        programme_id=data.programme_id,
        params={"case_id": str(data.case_id)},
    )


async def when_case_approved_tell_presenter(session: AsyncSession, env: Envelope[Any]) -> None:
    data: CaseApproved = env.data
    await _notify(
        SqlaNotificationRepository(session),
        env,
        "case_approved",
        [data.presenter_id],
        programme_id=data.programme_id,
        params={"case_id": str(data.case_id)},
    )


async def when_case_rejected_tell_presenter(session: AsyncSession, env: Envelope[Any]) -> None:
    data: CaseRejected = env.data
    await _notify(
        SqlaNotificationRepository(session),
        env,
        "case_rejected",
        [data.presenter_id],
        programme_id=data.programme_id,
        params={"case_id": str(data.case_id), "reason": data.reason},
    )


def _recommendations_params(
    data: RecommendationsIssued | RecommendationsRecorded,
) -> dict[str, Any]:
    params: dict[str, Any] = {"case_id": str(data.case_id)}
    if data.follow_up_due_on is not None:
        params["follow_up_due_on"] = data.follow_up_due_on.isoformat()
    return params


def recommendations_handlers(grace: timedelta) -> tuple[Handler, Handler]:
    """The handlers of the recommendations pair, which send the presenter one message.

    Cases publishes RecommendationsIssued (network: ids) and RecommendationsRecorded (regional:
    the text) together. Both record the same delivery (one idempotency slot per case and
    channel): the one without text waits `grace` for the text, the one with text replaces it
    while it has not gone out. Only when the text comes after the short message was sent does
    the presenter get a second message, the one with the text.
    """

    async def when_recommendations_issued_tell_presenter(
        session: AsyncSession, env: Envelope[Any]
    ) -> None:
        """Announce the recommendations (sent only if their text does not follow in time)."""
        data: RecommendationsIssued = env.data
        await _notify(
            SqlaNotificationRepository(session),
            env,
            "recommendations_issued",
            [data.presenter_id],
            programme_id=data.programme_id,
            params=_recommendations_params(data),
            cause_id=recommendations_cause_id(data.case_id),
            # From when we hear of it: a consumer catching up must still give the text a chance.
            due_at=max(env.time, datetime.now(UTC)) + grace,
            slot=RECOMMENDATIONS_SLOT,
        )

    async def when_recommendations_recorded_send_them_to_presenter(
        session: AsyncSession, env: Envelope[Any]
    ) -> None:
        """Email the recommendations' text to the presenter (it is never logged or published)."""
        data: RecommendationsRecorded = env.data
        repo = SqlaNotificationRepository(session)
        cause = recommendations_cause_id(data.case_id)
        params = _recommendations_params(data) | {"recommendations": data.text}
        recorded = {d["id"]: d for d in await repo.deliveries_of_cause(cause)}
        prefs = await repo.preferences_of([data.presenter_id])
        rows = delivery_rows(
            cause_event_id=cause,
            recipients=[data.presenter_id],
            template="recommendations_recorded",
            prefs=prefs,
            region=env.region,
            due_at=env.time,
            now=datetime.now(UTC),
            programme_id=data.programme_id,
            params=params,
            slot=RECOMMENDATIONS_SLOT,
        )
        late: list[dict[str, Any]] = []
        for row in rows:
            existing = recorded.get(row["id"])
            if existing is None:
                late.append(row)
            elif existing["template"] == "recommendations_recorded":
                continue  # this event again (redelivered): already recorded
            elif not await repo.replace_pending(
                row["id"], template=row["template"], params=params, due_at=row["next_attempt_at"]
            ):
                # The short message already went out (or is going): send the text on its own.
                key = row["idempotency_key"].replace(
                    f":{RECOMMENDATIONS_SLOT}:", ":recommendations_recorded:"
                )
                late.append(row | {"id": delivery_id(key), "idempotency_key": key})
        await repo.add_deliveries(late)
        log.debug("deliveries_recorded", event_id=str(env.id), template="recommendations_recorded")

    return (
        when_recommendations_issued_tell_presenter,
        when_recommendations_recorded_send_them_to_presenter,
    )


# ---------------------------------------------------------------------- evaluations and library


async def when_evaluation_requested_invite_participant(
    session: AsyncSession, env: Envelope[Any]
) -> None:
    """Invite the participant to the session's survey (once per request, whatever the event)."""
    data: EvaluationRequested = env.data
    await _notify(
        SqlaNotificationRepository(session),
        env,
        "evaluation_requested",
        [data.participant_id],
        programme_id=data.programme_id,
        session_id=data.session_id,
        params={
            "response_url": data.response_url,
            "closes_at": _utc(data.closes_at).isoformat(),
            "request_id": str(data.request_id),
        },
        cause_id=evaluation_cause_id(data.request_id),
    )


async def when_material_added_announce_recordings(
    session: AsyncSession, env: Envelope[Any]
) -> None:
    """Tell the programme's participants that a session's recording is in the library."""
    data: MaterialAdded = env.data
    if data.kind is not MaterialKind.RECORDING:
        return
    repo = SqlaNotificationRepository(session)
    if await repo.is_material_removed(data.material_id):
        return  # withdrawn before we heard of it (events out of order)
    await _notify(
        repo,
        env,
        "recording_available",
        await repo.enrolled(data.programme_id),
        programme_id=data.programme_id,
        session_id=data.session_id,
        params={"material_id": str(data.material_id)},
        cause_id=recording_cause_id(data.material_id),
    )


async def when_material_removed_cancel_announcements(
    session: AsyncSession, env: Envelope[Any]
) -> None:
    """Withdraw the announcements of a removed recording that have not gone out yet."""
    data: MaterialRemoved = env.data
    repo = SqlaNotificationRepository(session)
    await repo.material_removed(data.material_id, data.programme_id, env.time)
    cancelled = await repo.cancel_pending_of_cause(
        recording_cause_id(data.material_id), "material_removed"
    )
    if cancelled:
        log.info("deliveries_cancelled", event_id=str(env.id), count=cancelled)


async def when_certificate_issued_tell_participant(
    session: AsyncSession, env: Envelope[Any]
) -> None:
    data: CertificateIssued = env.data
    await _notify(
        SqlaNotificationRepository(session),
        env,
        "certificate_issued",
        [data.participant_id],
        programme_id=data.programme_id,
        params={"hours": f"{data.hours:g}"},
    )


def handlers(*, recommendations_grace: timedelta) -> dict[type[Event], Handler]:
    """Every event this service handles, and its handler."""
    issued, recorded = recommendations_handlers(recommendations_grace)
    return _HANDLERS | {RecommendationsIssued: issued, RecommendationsRecorded: recorded}


#: The handlers that need no settings (`handlers()` adds the recommendations pair).
_HANDLERS: dict[type[Event], Handler] = {
    ProgrammeCreated: when_programme_created_record_it,
    ProgrammeProfileUpdated: when_programme_profile_updated_record_team,
    SessionScheduled: when_session_scheduled_plan_reminders,
    SessionRescheduled: when_session_rescheduled_move_reminders_and_tell,
    SessionCancelled: when_session_cancelled_drop_reminders_and_tell,
    AgendaUpdated: when_agenda_updated_keep_it_for_reminders,
    CaseSubmitted: when_case_submitted_tell_reviewers,
    CaseApproved: when_case_approved_tell_presenter,
    CaseRejected: when_case_rejected_tell_presenter,
    ParticipantRegistered: when_participant_registered_record_recipient,
    RegistrationConfirmed: when_registration_confirmed_welcome_participant,
    CertificateIssued: when_certificate_issued_tell_participant,
    EvaluationRequested: when_evaluation_requested_invite_participant,
    MaterialAdded: when_material_added_announce_recordings,
    MaterialRemoved: when_material_removed_cancel_announcements,
}
