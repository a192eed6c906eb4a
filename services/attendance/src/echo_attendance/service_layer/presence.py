"""Use cases on presence: signed webhooks from video tools and a facilitator's manual entry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from echo_contracts import Event
from echo_contracts.events import AttendanceSource
from echo_runtime.logging import get_logger
from echo_runtime.service import ServiceRuntime

from echo_attendance.adapters.repository import WHOLE_MEETING, Row, SqlaAttendanceRepository, utc
from echo_attendance.domain.guests import GuestPolicy, guest_email_key
from echo_attendance.domain.model import (
    Edge,
    EdgeKind,
    InvalidAttendance,
    NotRegistered,
    PresenceInFuture,
    SessionNotFound,
    attendance_id,
    guest_key,
)
from echo_attendance.domain.webhooks import (
    PARSERS,
    Ignored,
    InvalidWebhook,
    PresenceSignal,
    UnknownProvider,
    UrlValidation,
    WebhookRejected,
    url_validation_answer,
    verify,
)
from echo_attendance.service_layer.guests import admit_guest
from echo_attendance.service_layer.recording import refresh_record
from echo_attendance.settings import AttendanceSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class WebhookOutcome:
    """What a webhook did: `recorded`, `duplicate`, `ignored`, or a url validation answer."""

    status: str
    session_id: uuid.UUID | None = None
    attendance_id: uuid.UUID | None = None
    guest: bool | None = None
    answer: dict[str, str] | None = None


async def receive_webhook(
    runtime: ServiceRuntime,
    settings: AttendanceSettings,
    provider: str,
    headers: Mapping[str, str],
    body: bytes,
) -> WebhookOutcome:
    """Verify a signed delivery, refuse replays, and record the presence it reports."""
    secret = settings.webhook_secrets.get(provider)
    parser = PARSERS.get(provider)
    if secret is None or parser is None:
        raise UnknownProvider(
            f"no video provider {provider!r} is configured; configured:"
            f" {sorted(p for p in settings.webhook_secrets if p in PARSERS)}"
        )
    received = datetime.now(UTC)
    replay_key = verify(
        provider, secret, headers, body, received, settings.webhook_tolerance_seconds
    )
    parsed = parser(body)
    if isinstance(parsed, UrlValidation):
        return WebhookOutcome("validated", answer=url_validation_answer(secret, parsed.plain_token))
    if isinstance(parsed, PresenceSignal):
        _refuse_future(parsed, received, settings)
    # Lookups first, on their own connection (no transaction on PostgreSQL): the write
    # transaction then holds its row locks only for its few writes.
    found: _Found | None = None
    if not isinstance(parsed, Ignored):
        async with runtime.db.reads() as conn:
            found = await _look_up(SqlaAttendanceRepository(conn), settings, parsed)
    async with runtime.db.transaction() as session:
        repo = SqlaAttendanceRepository(await session.connection())
        # The receipt is the first write: it takes SQLite's write lock before any read.
        if not await repo.record_receipt(replay_key, provider):
            raise WebhookRejected("this signed delivery was already received (replay)")
        if isinstance(parsed, Ignored) or found is None:
            return WebhookOutcome("ignored")
        outcome, region, events = await _record_signal(repo, parsed, found)
        if events:
            await runtime.emit(session, region, *events)
    return outcome


def _refuse_future(
    signal: PresenceSignal, received: datetime, settings: AttendanceSettings
) -> None:
    """Refuse (before anything is stored) a join/leave/end timed after it was received.

    Presence that has not happened yet would earn credit for a session not yet held. A video
    tool's clock may run a little ahead of ours: `presence_clock_skew_seconds` is tolerated.
    The tool gets a 422 with the reason; its own retries do not change the time it reports.
    """
    skew = timedelta(seconds=settings.presence_clock_skew_seconds)
    if signal.at > received + skew:
        raise PresenceInFuture(
            f"the {signal.kind.value} time {signal.at.isoformat()} is later than the moment this"
            f" delivery was received ({received.isoformat(timespec='seconds')}) by more than the"
            f" {int(skew.total_seconds())} s of tolerated clock skew; send presence only after it"
            " happened, and check the sending system's clock"
        )


@dataclass(frozen=True)
class _Found:
    """What a signal needs read before its transaction: session, registrant, guest policy."""

    session_row: Row
    participant: uuid.UUID | None = None
    #: The programme's guest limits, for a guest's join.
    policy: GuestPolicy | None = None


async def _look_up(
    repo: SqlaAttendanceRepository, settings: AttendanceSettings, signal: PresenceSignal
) -> _Found | None:
    """The signal's session (None: not ours), its registrant and, for a guest's join, the policy.

    Read outside the write transaction: none of them is changed by a webhook, and a change
    racing with a delivery is the same as the delivery arriving a moment earlier. A meeting's
    delivery (Zoom) finds all three in one statement.
    """
    if signal.session_id is not None:
        row = await repo.session_row(signal.session_id)
        if row is None or row["ends_at"] is None:
            # Scheduling has not told us yet: refuse, so the tool retries later.
            raise SessionNotFound(f"no session {signal.session_id} known here yet")
        return None if row["status"] == "cancelled" else await _attendee_of(repo, signal, row)
    if signal.meeting_id is None:
        raise InvalidWebhook("the delivery names neither a session nor a meeting")
    end = signal.kind is EdgeKind.END
    found = await repo.session_at(
        signal.provider,
        signal.meeting_id,
        signal.at,
        timedelta(minutes=settings.match_buffer_minutes),
        email=None if end else signal.email,
        join_token=None if end else signal.join_token,
    )
    if found is not None:
        row, participant, policy = found
        if end:
            return _Found(row)
        guest_join = participant is None and signal.kind is EdgeKind.JOIN
        return _Found(row, participant, policy if guest_join else None)
    if signal.kind is not EdgeKind.JOIN:
        row = await repo.session_of_instance(
            signal.instance,
            signal.connection if signal.kind is EdgeKind.LEAVE else None,
            signal.at,
        )
        if row is not None:
            return await _attendee_of(repo, signal, row)
    log.info("webhook_without_session", provider=signal.provider)
    return None


async def _attendee_of(
    repo: SqlaAttendanceRepository, signal: PresenceSignal, session_row: Row
) -> _Found:
    if signal.kind is EdgeKind.END:
        return _Found(session_row)
    participant = await repo.registrant(
        session_row["programme_id"], signal.email, signal.join_token
    )
    policy = None
    if participant is None and signal.kind is EdgeKind.JOIN:
        policy = await repo.guest_policy(session_row["programme_id"])
    return _Found(session_row, participant, policy)


async def _record_signal(
    repo: SqlaAttendanceRepository, signal: PresenceSignal, found: _Found
) -> tuple[WebhookOutcome, str, list[Event]]:
    session_row = found.session_row
    edge = Edge(signal.kind, signal.at, signal.instance, signal.connection)
    source = signal.provider
    if signal.kind is EdgeKind.END:
        await repo.add_edge(session_row["id"], WHOLE_MEETING, source, edge)
        events: list[Event] = []
        for record in await repo.records_of_session(session_row["id"]):
            events.extend(await refresh_record(repo, session_row, record))
        return WebhookOutcome("recorded", session_row["id"]), session_row["region"], events
    participant = found.participant
    guest_id: uuid.UUID | None = None
    over_limit = False
    if participant is not None:
        key = str(participant)
    else:
        if signal.email:
            key = guest_email_key(signal.email)
        else:
            stable = signal.external_id or signal.join_token or signal.connection
            key = guest_key(signal.provider, stable)
        guest_id = await repo.ensure_guest(
            session_row["programme_id"], key, signal.name, signal.email
        )
        if signal.kind is EdgeKind.JOIN:
            # The call happened either way: a refused guest is recorded, flagged, never credited.
            refusal = await admit_guest(repo, session_row, guest_id, key, found.policy)
            over_limit = refusal is not None
        else:
            over_limit = not await repo.guest_admitted(session_row["id"], guest_id)
    record = await repo.lock_record(
        session_row,
        key,
        attendance_id(session_row["id"], key),
        participant,
        source,
        guest_id,
        over_limit,
    )
    if guest_id is not None and bool(record["over_limit"]) != over_limit:
        await repo.update_record(record["id"], over_limit=over_limit)
        record = {**record, "over_limit": over_limit}
    fresh = await repo.add_edge(session_row["id"], key, source, edge)
    if not fresh and record["revision"] > 0:
        return (
            WebhookOutcome("duplicate", session_row["id"], record["id"], participant is None),
            session_row["region"],
            [],
        )
    events = await refresh_record(repo, session_row, record, source=source)
    outcome = WebhookOutcome("recorded", session_row["id"], record["id"], participant is None)
    return outcome, session_row["region"], events


@dataclass(frozen=True)
class RecordManualAttendance:
    session_id: uuid.UUID
    participant_id: uuid.UUID | None
    attended_minutes: float
    reason: str
    actor: str
    #: An unregistered attendee (instead of `participant_id`): kept as a guest.
    guest_name: str | None = None
    guest_email: str | None = None


async def record_manual_attendance(runtime: ServiceRuntime, cmd: RecordManualAttendance) -> Row:
    """Set an attendee's attended time by hand; audited, and marked adjusted everywhere.

    A guest (no registration) is kept by email like a webhook guest, under the same limits:
    beyond them the record is flagged `over_limit`.
    """
    async with runtime.db.transaction() as session:
        repo = SqlaAttendanceRepository(session)
        session_row = await repo.session_row(cmd.session_id)
        if session_row is None or session_row["ends_at"] is None:
            raise SessionNotFound(f"no session {cmd.session_id} known here")
        if utc(session_row["starts_at"]) > datetime.now(UTC):
            raise InvalidAttendance(
                "this session has not started yet: record attendance once it has been held"
                " (attendance that has not happened earns no credit)"
            )
        session_seconds = int(
            (utc(session_row["ends_at"]) - utc(session_row["starts_at"])).total_seconds()
        )
        seconds = round(cmd.attended_minutes * 60)
        if seconds > session_seconds:
            raise InvalidAttendance(
                f"attended_minutes exceeds the session's {session_seconds // 60} minutes"
            )
        guest_id: uuid.UUID | None = None
        over_limit = False
        participant = cmd.participant_id
        if participant is not None:
            if await repo.registration(participant, session_row["programme_id"]) is None:
                raise NotRegistered(
                    "the participant is not registered to this session's programme;"
                    " register them, or record them as a guest (name and email)"
                )
            key = str(participant)
        else:
            email = (cmd.guest_email or "").strip().lower()
            registered = await repo.registrant(session_row["programme_id"], email, None)
            if registered is not None:
                participant, key = registered, str(registered)
            else:
                key = guest_email_key(email)
                guest_id = await repo.ensure_guest(
                    session_row["programme_id"], key, cmd.guest_name, email
                )
                over_limit = await admit_guest(repo, session_row, guest_id, key) is not None
        record = await repo.lock_record(
            session_row,
            key,
            attendance_id(session_row["id"], key),
            participant,
            AttendanceSource.MANUAL.value,
            guest_id,
        )
        await repo.add_adjustment(
            {
                "id": uuid.uuid4(),
                "attendance_id": record["id"],
                "session_id": session_row["id"],
                "participant_id": participant,
                "guest_id": guest_id,
                "previous_seconds": record["attended_seconds"] if record["revision"] else None,
                "attended_seconds": seconds,
                "reason": cmd.reason,
                "actor": cmd.actor,
                "created_at": datetime.now(UTC),
            }
        )
        await repo.update_record(record["id"], override_seconds=seconds, over_limit=over_limit)
        record = {**record, "override_seconds": seconds, "over_limit": over_limit}
        events = await refresh_record(
            repo, session_row, record, source=AttendanceSource.MANUAL.value
        )
        if events:
            await runtime.emit(session, session_row["region"], *events)
        result: dict[str, Any] = dict(
            await repo.lock_record(
                session_row, key, record["id"], participant, AttendanceSource.MANUAL.value
            )
        )
    log.info("attendance_adjusted", session_id=str(cmd.session_id), events=len(events))
    return result


def receipt_janitor(
    settings: AttendanceSettings, every_seconds: float = 60
) -> Callable[[ServiceRuntime], Awaitable[None]]:
    """A background job that forgets receipts no replay could still match (keeps the table small).

    A delivery is accepted at most `tolerance` after it was signed, and signed at most
    `tolerance` before it was received: after twice that (plus a minute) it is stale anyway.
    """
    keep = timedelta(seconds=2 * settings.webhook_tolerance_seconds + 60)

    async def forget_old_receipts(runtime: ServiceRuntime) -> None:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                async with runtime.db.transaction() as session:
                    dropped = await SqlaAttendanceRepository(session).forget_receipts(
                        datetime.now(UTC) - keep
                    )
                if dropped:
                    log.info("webhook_receipts_forgotten", count=dropped)
            except Exception as exc:  # the database may be restarting: try again later
                log.warning("webhook_receipts_janitor_failed", error=type(exc).__name__)

    return forget_old_receipts
