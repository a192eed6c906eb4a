"""SQLAlchemy repository of recipients, programmes, sessions, reminders and deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from echo_notifications.adapters.tables import (
    agendas,
    deliveries,
    enrolments,
    preferences,
    programme_staff,
    programmes,
    recipients,
    reminders,
    removed_materials,
    sessions,
)
from echo_notifications.domain.model import (
    ChannelKind,
    DeliveryStatus,
    Preferences,
    QuietHours,
    Reminder,
)


def utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns: they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


class SqlaNotificationRepository:
    """All reads and writes of the notifications service, inside a caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _insert_ignore(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        dialect = self.session.get_bind().dialect.name
        stmt: Any = (
            pg_insert(table).on_conflict_do_nothing()
            if dialect == "postgresql"
            else sqlite_insert(table).on_conflict_do_nothing()
        )
        await self.session.execute(stmt, rows)

    # ------------------------------------------------------------------ recipients

    async def upsert_recipient(
        self,
        recipient_id: uuid.UUID,
        *,
        region: str,
        kind: str,
        name: str,
        email: str | None,
        language: str | None,
        timezone: str | None,
        at: datetime,
    ) -> None:
        """Record who a recipient is; an older event never overwrites a newer one."""
        row = (
            await self.session.execute(
                sa.select(recipients.c.kind, recipients.c.updated_at).where(
                    recipients.c.id == recipient_id
                )
            )
        ).first()
        values = {
            "region": region,
            "kind": kind,
            "name": name,
            "email": email,
            "language": language,
            "timezone": timezone,
            "updated_at": at,
        }
        if row is None:
            await self.session.execute(sa.insert(recipients).values(id=recipient_id, **values))
            return
        if row.kind == "participant" and kind != "participant":
            return  # a participant's own profile wins over a hub team listing
        if utc(row.updated_at) > at and row.kind == kind:
            return
        await self.session.execute(
            sa.update(recipients).where(recipients.c.id == recipient_id).values(**values)
        )

    async def recipient(self, recipient_id: uuid.UUID) -> dict[str, Any] | None:
        row = (
            (
                await self.session.execute(
                    sa.select(recipients).where(recipients.c.id == recipient_id)
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    # ------------------------------------------------------------------ preferences

    async def preferences(self, participant_id: uuid.UUID) -> Preferences | None:
        row = (
            (
                await self.session.execute(
                    sa.select(preferences).where(preferences.c.participant_id == participant_id)
                )
            )
            .mappings()
            .first()
        )
        return _preferences(row) if row else None

    async def preferences_of(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Preferences]:
        wanted = list(ids)
        if not wanted:
            return {}
        rows = (
            await self.session.execute(
                sa.select(preferences).where(preferences.c.participant_id.in_(wanted))
            )
        ).mappings()
        return {r["participant_id"]: _preferences(r) for r in rows}

    async def save_preferences(self, prefs: Preferences, at: datetime) -> None:
        values = {
            "channels": [c.value for c in prefs.channels],
            "language": prefs.language,
            "timezone": prefs.timezone,
            "quiet_start": prefs.quiet_hours.start if prefs.quiet_hours else None,
            "quiet_end": prefs.quiet_hours.end if prefs.quiet_hours else None,
            "webhook_url": prefs.webhook_url,
            "topics": prefs.topics,
            "opted_out": prefs.opted_out or None,
            "updated_at": at,
        }
        updated = await self.session.execute(
            sa.update(preferences)
            .where(preferences.c.participant_id == prefs.participant_id)
            .values(**values)
        )
        if getattr(updated, "rowcount", 0) == 0:
            await self.session.execute(
                sa.insert(preferences).values(participant_id=prefs.participant_id, **values)
            )

    # ------------------------------------------------------------------ programmes

    async def programme_created(
        self, programme_id: uuid.UUID, region: str, language: str, timezone: str
    ) -> None:
        row = await self.programme(programme_id)
        if row is None:
            await self.session.execute(
                sa.insert(programmes).values(
                    id=programme_id, region=region, language=language, timezone=timezone
                )
            )
        else:
            await self.session.execute(
                sa.update(programmes)
                .where(programmes.c.id == programme_id)
                .values(region=region, language=language, timezone=timezone)
            )

    async def programme(self, programme_id: uuid.UUID) -> dict[str, Any] | None:
        row = (
            (
                await self.session.execute(
                    sa.select(programmes).where(programmes.c.id == programme_id)
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def set_profile(
        self,
        programme_id: uuid.UUID,
        *,
        region: str,
        title: str,
        staff: Sequence[tuple[uuid.UUID, str]],
        at: datetime,
    ) -> bool:
        """Store a programme's title and hub team; False when a newer profile is already here."""
        row = await self.programme(programme_id)
        if row is None:
            await self.session.execute(
                sa.insert(programmes).values(
                    id=programme_id, region=region, title=title, profile_updated_at=at
                )
            )
        else:
            seen = row["profile_updated_at"]
            if seen is not None and utc(seen) > at:
                return False
            await self.session.execute(
                sa.update(programmes)
                .where(programmes.c.id == programme_id)
                .values(title=title, profile_updated_at=at)
            )
        await self.session.execute(
            sa.delete(programme_staff).where(programme_staff.c.programme_id == programme_id)
        )
        await self._insert_ignore(
            programme_staff,
            [{"programme_id": programme_id, "person_id": p, "role": r} for p, r in staff],
        )
        return True

    async def staff(self, programme_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
        """The hub team of a programme: (person id, role)."""
        rows = await self.session.execute(
            sa.select(programme_staff.c.person_id, programme_staff.c.role)
            .where(programme_staff.c.programme_id == programme_id)
            .order_by(programme_staff.c.person_id)
        )
        return [(r.person_id, r.role) for r in rows]

    async def enrol(
        self, registration_id: uuid.UUID, participant_id: uuid.UUID, programme_id: uuid.UUID
    ) -> None:
        await self._insert_ignore(
            enrolments,
            [
                {
                    "registration_id": registration_id,
                    "participant_id": participant_id,
                    "programme_id": programme_id,
                }
            ],
        )

    async def enrolled(self, programme_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self.session.execute(
            sa.select(enrolments.c.participant_id)
            .where(enrolments.c.programme_id == programme_id)
            .distinct()
            .order_by(enrolments.c.participant_id)
        )
        return list(rows.scalars())

    # ------------------------------------------------------------------ sessions

    async def session_row(self, session_id: uuid.UUID) -> dict[str, Any] | None:
        row = (
            (await self.session.execute(sa.select(sessions).where(sessions.c.id == session_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        found = dict(row)
        found["starts_at"] = utc(found["starts_at"])
        found["ends_at"] = _utc_or_none(found["ends_at"])
        return found

    async def put_session(self, session_id: uuid.UUID, **values: Any) -> None:
        if await self.session_row(session_id) is None:
            await self.session.execute(sa.insert(sessions).values(id=session_id, **values))
        else:
            await self.session.execute(
                sa.update(sessions).where(sessions.c.id == session_id).values(**values)
            )

    async def set_agenda(
        self,
        session_id: uuid.UUID,
        *,
        topic: str | None,
        presenter: str | None,
        cases: int,
        at: datetime,
    ) -> None:
        row = (
            await self.session.execute(
                sa.select(agendas.c.updated_at).where(agendas.c.session_id == session_id)
            )
        ).first()
        values = {
            "didactic_topic": topic,
            "presenter_name": presenter,
            "case_count": cases,
            "updated_at": at,
        }
        if row is None:
            await self.session.execute(sa.insert(agendas).values(session_id=session_id, **values))
        elif utc(row.updated_at) <= at:
            await self.session.execute(
                sa.update(agendas).where(agendas.c.session_id == session_id).values(**values)
            )

    async def agenda(self, session_id: uuid.UUID) -> dict[str, Any] | None:
        row = (
            (
                await self.session.execute(
                    sa.select(agendas).where(agendas.c.session_id == session_id)
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    # ------------------------------------------------------------------ reminders

    async def put_reminders(
        self,
        wanted: Sequence[Reminder],
        *,
        programme_id: uuid.UUID,
        region: str,
        starts_at: datetime,
    ) -> None:
        """Create or move a session's reminders; a moved reminder may fire again."""
        for reminder in wanted:
            row = (
                await self.session.execute(
                    sa.select(reminders.c.starts_at).where(
                        reminders.c.session_id == reminder.session_id,
                        reminders.c.kind == reminder.kind.value,
                    )
                )
            ).first()
            values = {
                "programme_id": programme_id,
                "region": region,
                "starts_at": starts_at,
                "due_at": reminder.due_at,
                "expires_at": reminder.expires_at,
                "fired_at": None,
                "outcome": None,
            }
            if row is None:
                await self.session.execute(
                    sa.insert(reminders).values(
                        session_id=reminder.session_id, kind=reminder.kind.value, **values
                    )
                )
            elif utc(row.starts_at) != starts_at:
                await self.session.execute(
                    sa.update(reminders)
                    .where(
                        reminders.c.session_id == reminder.session_id,
                        reminders.c.kind == reminder.kind.value,
                    )
                    .values(**values)
                )

    async def drop_reminders(self, session_id: uuid.UUID) -> None:
        await self.session.execute(sa.delete(reminders).where(reminders.c.session_id == session_id))

    async def reminders_of(self, session_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = (
            await self.session.execute(
                sa.select(reminders)
                .where(reminders.c.session_id == session_id)
                .order_by(reminders.c.due_at)
            )
        ).mappings()
        return [dict(r) for r in rows]

    async def due_reminders(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        rows = (
            await self.session.execute(
                sa.select(reminders)
                .where(reminders.c.fired_at.is_(None), reminders.c.due_at <= now)
                .order_by(reminders.c.due_at)
                .limit(limit)
            )
        ).mappings()
        return [dict(r) for r in rows]

    async def fire_reminder(
        self, session_id: uuid.UUID, kind: str, due_at: datetime, now: datetime, outcome: str
    ) -> bool:
        """Mark a reminder fired, atomically: False when another dispatcher got there first."""
        result = await self.session.execute(
            sa.update(reminders)
            .where(
                reminders.c.session_id == session_id,
                reminders.c.kind == kind,
                reminders.c.fired_at.is_(None),
                reminders.c.due_at == due_at,
            )
            .values(fired_at=now, outcome=outcome)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    # ------------------------------------------------------------------ deliveries

    async def add_deliveries(self, rows: list[dict[str, Any]]) -> None:
        """Record intended messages; one that is already recorded (same key) is left alone."""
        await self._insert_ignore(deliveries, rows)

    async def cancel_pending(self, session_id: uuid.UUID, templates: Iterable[str]) -> None:
        """Cancel a session's messages that have not gone out (a reminder for the old time)."""
        await self.session.execute(
            sa.update(deliveries)
            .where(
                deliveries.c.session_id == session_id,
                deliveries.c.template.in_(list(templates)),
                deliveries.c.status == DeliveryStatus.PENDING.value,
                deliveries.c.claimed_until.is_(None),  # one being sent now is left to finish
            )
            .values(status=DeliveryStatus.CANCELLED.value, last_error="session_changed")
        )

    async def cancel_pending_of_cause(self, cause_event_id: uuid.UUID, reason: str) -> int:
        """Cancel the messages of one cause that have not gone out; how many were cancelled."""
        result = await self.session.execute(
            sa.update(deliveries)
            .where(
                deliveries.c.cause_event_id == cause_event_id,
                deliveries.c.status == DeliveryStatus.PENDING.value,
                deliveries.c.claimed_until.is_(None),  # one being sent now is left to finish
            )
            .values(status=DeliveryStatus.CANCELLED.value, last_error=reason, params={})
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def deliveries_of_cause(self, cause_event_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = (
            await self.session.execute(
                sa.select(deliveries).where(deliveries.c.cause_event_id == cause_event_id)
            )
        ).mappings()
        return [dict(r) for r in rows]

    async def replace_pending(
        self, delivery_id: uuid.UUID, *, template: str, params: dict[str, Any], due_at: datetime
    ) -> bool:
        """Rewrite a message that has not gone out (nor is being sent); False when too late."""
        result = await self.session.execute(
            sa.update(deliveries)
            .where(
                deliveries.c.id == delivery_id,
                deliveries.c.status == DeliveryStatus.PENDING.value,
                deliveries.c.claimed_until.is_(None),
                deliveries.c.attempts == 0,
            )
            .values(template=template, params=params, next_attempt_at=due_at)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def material_removed(
        self, material_id: uuid.UUID, programme_id: uuid.UUID, at: datetime
    ) -> None:
        await self._insert_ignore(
            removed_materials,
            [{"material_id": material_id, "programme_id": programme_id, "removed_at": at}],
        )

    async def is_material_removed(self, material_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            sa.select(removed_materials.c.material_id).where(
                removed_materials.c.material_id == material_id
            )
        )
        return found is not None

    async def claimable(self, now: datetime, limit: int) -> list[uuid.UUID]:
        rows = await self.session.execute(
            sa.select(deliveries.c.id)
            .where(
                deliveries.c.status == DeliveryStatus.PENDING.value,
                deliveries.c.next_attempt_at <= now,
                sa.or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until < now),
            )
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
        )
        return list(rows.scalars())

    async def claim(
        self, ids: list[uuid.UUID], now: datetime, lease_until: datetime, token: str
    ) -> list[dict[str, Any]]:
        """Claim deliveries and count the attempt before sending (conditional, so races lose)."""
        if not ids:
            return []
        await self.session.execute(
            sa.update(deliveries)
            .where(
                deliveries.c.id.in_(ids),
                deliveries.c.status == DeliveryStatus.PENDING.value,
                sa.or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until < now),
            )
            .values(
                claimed_until=lease_until,
                claim_token=token,
                attempts=deliveries.c.attempts + 1,
            )
        )
        rows = (
            await self.session.execute(
                sa.select(deliveries).where(
                    deliveries.c.id.in_(ids), deliveries.c.claim_token == token
                )
            )
        ).mappings()
        return [dict(r) for r in rows]

    async def finish(self, delivery_id: uuid.UUID, token: str, **values: Any) -> bool:
        """Record the outcome of a claimed delivery (only by the claim's holder)."""
        result = await self.session.execute(
            sa.update(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.claim_token == token)
            .values(claimed_until=None, **values)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def delivery(self, delivery_id: uuid.UUID) -> dict[str, Any] | None:
        row = (
            (
                await self.session.execute(
                    sa.select(deliveries).where(deliveries.c.id == delivery_id)
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def list_deliveries(
        self,
        *,
        regions: list[str] | None,
        recipient_id: uuid.UUID | None,
        event_id: uuid.UUID | None,
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        where: list[Any] = []
        if regions is not None:
            where.append(deliveries.c.region.in_(regions))
        if recipient_id is not None:
            where.append(deliveries.c.recipient_id == recipient_id)
        if event_id is not None:
            where.append(deliveries.c.cause_event_id == event_id)
        total = await self.session.scalar(
            sa.select(sa.func.count()).select_from(deliveries).where(*where)
        )
        rows = (
            await self.session.execute(
                sa.select(deliveries)
                .where(*where)
                .order_by(deliveries.c.created_at, deliveries.c.id)
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        return [dict(r) for r in rows], int(total or 0)


def _preferences(row: Any) -> Preferences:
    start: time | None = row["quiet_start"]
    end: time | None = row["quiet_end"]
    return Preferences(
        participant_id=row["participant_id"],
        channels=[ChannelKind(c) for c in row["channels"]],
        language=row["language"],
        timezone=row["timezone"],
        quiet_hours=QuietHours(start, end) if start is not None and end is not None else None,
        webhook_url=row["webhook_url"],
        topics=list(row["topics"]) if row["topics"] is not None else None,
        opted_out=list(row["opted_out"] or []),
    )
