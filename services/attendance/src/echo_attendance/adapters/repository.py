"""SQLAlchemy repository of the attendance service (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from echo_contracts.events import QuestionKind
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from echo_attendance.adapters.tables import (
    attendance,
    attendance_adjustments,
    certificates,
    credit_rules,
    credits,
    evaluation_forms,
    evaluation_markers,
    evaluation_requests,
    evaluation_responses,
    evaluation_rounds,
    guest_admissions,
    guest_policies,
    guests,
    participants,
    presence_edges,
    programme_titles,
    programmes,
    registrations,
    sessions,
    video_meetings,
    webhook_receipts,
)
from echo_attendance.domain.evaluation import EvaluationForm, Question
from echo_attendance.domain.guests import GuestPolicy
from echo_attendance.domain.model import CreditRule, Edge, EdgeKind, Window

Row = dict[str, Any]
#: Statements of the webhook's path, built once per dialect (see `_built`).
_BUILT: dict[tuple[str, str], Any] = {}
#: The attendee key of signals that concern a whole meeting instance (it ended).
WHOLE_MEETING = "*"


def utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class SqlaAttendanceRepository:
    """On an ORM session, or on a Core connection (`Database.reads()`, or a transaction's
    `await session.connection()`): a Core statement on a connection skips the ORM execute path,
    a large share of a statement's CPU in the webhook's profile."""

    def __init__(self, session: AsyncSession | AsyncConnection) -> None:
        self.session = session
        dialect = (
            session.get_bind().dialect if isinstance(session, AsyncSession) else session.dialect
        )
        self._dialect = postgresql if dialect.name == "postgresql" else sqlite

    # ------------------------------------------------------------------ helpers

    def _insert(self, table: sa.Table) -> Any:
        return self._dialect.insert(table)

    def _built(self, name: str, build: Callable[[Any], Any]) -> Any:
        """A statement built once per dialect, its values given as parameters at execution.

        Building a statement (`excluded` aliases, coercions) and computing its cache key took
        about a fifth of the webhook's CPU when done per call; a kept statement memoizes its key.
        """
        key = (self._dialect.__name__, name)
        stmt = _BUILT.get(key)
        if stmt is None:
            stmt = _BUILT[key] = build(self._dialect)
        return stmt

    async def _first(self, query: sa.Select[Any]) -> Row | None:
        row = (await self.session.execute(query)).mappings().first()
        return dict(row) if row else None

    async def _page(
        self, query: sa.Select[Any], order: list[Any], limit: int, offset: int
    ) -> tuple[list[Row], int]:
        total = await self.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
        rows = (
            await self.session.execute(query.order_by(*order).limit(limit).offset(offset))
        ).mappings()
        return [dict(r) for r in rows], int(total or 0)

    # ------------------------------------------------------------------ programmes, sessions

    async def upsert_programmes(self, rows: list[Row]) -> None:
        """Record programmes (one row each; a known programme takes the new values)."""
        stmt = self._insert(programmes)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["id"],
                set_={
                    c: stmt.excluded[c]
                    for c in ("region", "timezone", "session_minutes", "starts_on", "ends_on")
                },
            ),
            rows,
        )

    async def set_titles(self, rows: list[Row]) -> None:
        """Keep the title of the latest profile event (by event time, not arrival).

        One row a programme (`programme_id`, `title`, `as_of`); an older `as_of` than the stored
        one changes nothing.
        """
        stmt = self._insert(programme_titles)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["programme_id"],
                set_={"title": stmt.excluded.title, "as_of": stmt.excluded.as_of},
                where=sa.or_(
                    programme_titles.c.as_of.is_(None),
                    programme_titles.c.as_of <= stmt.excluded.as_of,
                ),
            ),
            rows,
        )

    async def title(self, programme_id: uuid.UUID) -> str | None:
        found = await self.session.scalar(
            sa.select(programme_titles.c.title).where(
                programme_titles.c.programme_id == programme_id
            )
        )
        return None if found is None else str(found)

    async def lock_programme(self, programme_id: uuid.UUID) -> bool:
        """Take the programme's row for this transaction (a no-op write); False when unknown.

        A write as the first statement: PostgreSQL locks the row, SQLite takes its write lock
        before anything is read, so changes of one programme's settings run one after another.
        """
        result = await self.session.execute(
            sa.update(programmes)
            .where(programmes.c.id == programme_id)
            .values(region=programmes.c.region)
        )
        return bool(_rowcount(result))

    async def programme(self, programme_id: uuid.UUID) -> Row | None:
        return await self._first(sa.select(programmes).where(programmes.c.id == programme_id))

    async def sessions_for_update(self, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, Row]:
        """The known sessions among `session_ids`, locked until commit (one statement)."""
        rows = await self.session.execute(
            sa.select(sessions).where(sessions.c.id.in_(session_ids)).with_for_update()
        )
        return {_uuid(r["id"]): dict(r) for r in rows.mappings()}

    async def save_sessions(self, rows: list[Row]) -> None:
        """Write session rows (new or changed); a known session keeps programme and region."""
        if not rows:
            return
        stmt = self._insert(sessions)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["id"],
                set_={c: stmt.excluded[c] for c in ("starts_at", "ends_at", "status", "sequence")},
            ),
            rows,
        )

    async def session_row(self, session_id: uuid.UUID) -> Row | None:
        return await self._first(sa.select(sessions).where(sessions.c.id == session_id))

    async def session_at(
        self,
        provider: str,
        meeting_id: str,
        at: datetime,
        buffer: timedelta,
        *,
        email: str | None = None,
        join_token: str | None = None,
    ) -> tuple[Row, uuid.UUID | None, GuestPolicy] | None:
        """The linked programme's session whose window (widened by `buffer`) holds `at`, with
        the programme's registrant of this email or join token (see `registrant`) and its guest
        policy, all in one statement."""
        by_email, by_token = bool(email), bool(join_token)
        stmt = self._built(
            f"session_at_{by_email}_{by_token}", lambda _: _session_at(by_email, by_token)
        )
        params: dict[str, Any] = {
            "b_provider": provider,
            "b_meeting": meeting_id,
            "b_latest": at + buffer,
            "b_earliest": at - buffer,
        }
        if by_email:
            params["b_email"] = email
        if by_token:
            params["b_token"] = join_token
        candidates = [dict(r) for r in (await self.session.execute(stmt, params)).mappings()]
        if not candidates:
            return None
        row = min(candidates, key=lambda r: abs((utc(r["starts_at"]) - at).total_seconds()))
        registrant = row.pop("b_registrant")
        policy = GuestPolicy(row.pop("b_max_guests"), row.pop("b_register_after"))
        return row, None if registrant is None else _uuid(registrant), policy

    # ------------------------------------------------------------------ participants

    async def add_participant(self, values: Row) -> None:
        await self.session.execute(sa.insert(participants).values(**values))

    async def participant(self, participant_id: uuid.UUID) -> Row | None:
        return await self._first(sa.select(participants).where(participants.c.id == participant_id))

    async def participant_by_email(self, region: str, email: str) -> Row | None:
        return await self._first(
            sa.select(participants).where(
                participants.c.region == region, participants.c.email == email
            )
        )

    async def add_registration(self, values: Row) -> None:
        await self.session.execute(sa.insert(registrations).values(**values))

    async def registration(self, participant_id: uuid.UUID, programme_id: uuid.UUID) -> Row | None:
        return await self._first(
            sa.select(registrations).where(
                registrations.c.participant_id == participant_id,
                registrations.c.programme_id == programme_id,
            )
        )

    async def registrant(
        self, programme_id: uuid.UUID, email: str | None, join_token: str | None
    ) -> uuid.UUID | None:
        """The registered participant with this email or join token (never a display name)."""
        if not email and not join_token:
            return None
        params: dict[str, Any] = {"b_programme": programme_id}
        if email:
            params["b_email"] = email
        if join_token:
            params["b_token"] = join_token
        by_email, by_token = bool(email), bool(join_token)
        stmt = self._built(
            f"registrant_{by_email}_{by_token}", lambda _: _registrant(by_email, by_token)
        )
        found = await self.session.scalar(stmt, params)
        return None if found is None else _uuid(found)

    # ------------------------------------------------------------------ webhooks and presence

    async def link_meeting(
        self, provider: str, meeting_id: str, programme_id: uuid.UUID
    ) -> uuid.UUID:
        """Link a meeting to a programme unless it is linked already; the programme it is
        linked to afterwards (another programme's link is never overwritten)."""
        await self.session.execute(
            self._insert(video_meetings)
            .values(
                provider=provider,
                meeting_id=meeting_id,
                programme_id=programme_id,
                created_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing(index_elements=["provider", "meeting_id"])
        )
        linked = await self.session.scalar(
            sa.select(video_meetings.c.programme_id).where(
                video_meetings.c.provider == provider, video_meetings.c.meeting_id == meeting_id
            )
        )
        return _uuid(linked)

    async def record_receipt(self, replay_key: str, provider: str) -> bool:
        """Remember a delivery; False when this exact signed delivery was seen before."""
        stmt = self._built(
            "receipt",
            lambda d: d.insert(webhook_receipts).on_conflict_do_nothing(
                index_elements=["replay_key"]
            ),
        )
        result = await self.session.execute(
            stmt,
            {"replay_key": replay_key, "provider": provider, "received_at": datetime.now(UTC)},
        )
        return bool(_rowcount(result))

    async def forget_receipts(self, before: datetime) -> int:
        """Drop receipts older than any delivery that could still pass the timestamp check."""
        result = await self.session.execute(
            sa.delete(webhook_receipts).where(webhook_receipts.c.received_at < before)
        )
        return _rowcount(result)

    async def session_of_instance(
        self, instance: str, connection: str | None, before: datetime
    ) -> Row | None:
        """The session in which this meeting instance (and connection) last joined before `at`.

        A leave or a meeting end can come long after the session's window: it still closes
        the segment its join opened.
        """
        where = [
            presence_edges.c.instance == instance,
            presence_edges.c.kind == EdgeKind.JOIN.value,
            presence_edges.c.at <= before,
        ]
        if connection is not None:
            where.append(presence_edges.c.connection == connection)
        session_id = await self.session.scalar(
            sa.select(presence_edges.c.session_id)
            .where(*where)
            .order_by(presence_edges.c.at.desc())
            .limit(1)
        )
        if session_id is None:
            return None
        row = await self.session_row(session_id)
        return None if row is None or row["status"] == "cancelled" else row

    async def add_edge(
        self, session_id: uuid.UUID, attendee_key: str, source: str, edge: Edge
    ) -> bool:
        stmt = self._built("add_edge", lambda d: d.insert(presence_edges).on_conflict_do_nothing())
        result = await self.session.execute(
            stmt,
            {
                "session_id": session_id,
                "attendee_key": attendee_key,
                "source": source,
                "kind": edge.kind.value,
                "at": edge.at,
                "instance": edge.instance,
                "connection": edge.connection,
            },
        )
        return bool(_rowcount(result))

    async def edges(self, session_id: uuid.UUID, attendee_key: str) -> list[Edge]:
        """An attendee's edges plus the ends of the session's meeting instances."""
        stmt = self._built(
            "edges",
            lambda _: sa.select(
                presence_edges.c.kind,
                presence_edges.c.at,
                presence_edges.c.instance,
                presence_edges.c.connection,
            ).where(
                presence_edges.c.session_id == sa.bindparam("b_session"),
                # Not an expanding IN: that is rendered anew at every execution.
                sa.or_(
                    presence_edges.c.attendee_key == sa.bindparam("b_key"),
                    presence_edges.c.attendee_key == WHOLE_MEETING,
                ),
            ),
        )
        rows = await self.session.execute(stmt, {"b_session": session_id, "b_key": attendee_key})
        return [Edge(EdgeKind(r.kind), utc(r.at), r.instance, r.connection) for r in rows]

    # ------------------------------------------------------------------ attendance records

    async def lock_record(
        self,
        session_row: Row,
        attendee_key: str,
        record_id: uuid.UUID,
        participant_id: uuid.UUID | None,
        source: str,
        guest_id: uuid.UUID | None = None,
        over_limit: bool = False,
    ) -> Row:
        """The attendee's record, created empty (revision 0) if needed, locked until commit.

        `over_limit` is the flag of a record it creates (an existing record keeps its own).

        One upsert both creates and locks the row (PostgreSQL locks a row it updates on
        conflict), so concurrent webhooks of one person are applied one after the other.
        """
        stmt = self._built("lock_record", _lock_record)
        values = {
            "id": record_id,
            "session_id": session_row["id"],
            "programme_id": session_row["programme_id"],
            "attendee_key": attendee_key,
            "participant_id": participant_id,
            "attended_seconds": 0,
            "session_seconds": 0,
            "source": source,
            "adjusted": False,
            "override_seconds": None,
            "revision": 0,
            "updated_at": datetime.now(UTC),
            "guest_id": guest_id,
            "over_limit": over_limit,
        }
        row = (await self.session.execute(stmt, values)).mappings().one()
        return dict(row)

    async def update_record(self, record_id: uuid.UUID, **values: Any) -> None:
        stmt = self._built(
            "update_record",
            lambda _: sa.update(attendance).where(attendance.c.id == sa.bindparam("b_record")),
        )
        await self.session.execute(
            stmt, {"b_record": record_id, "updated_at": datetime.now(UTC), **values}
        )

    async def records_of_session(self, session_id: uuid.UUID) -> list[Row]:
        rows = await self.session.execute(
            sa.select(attendance)
            .where(attendance.c.session_id == session_id)
            .order_by(attendance.c.attendee_key)
            .with_for_update()
        )
        return [dict(r) for r in rows.mappings()]

    async def records_of_sessions(self, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Row]]:
        """The records of several sessions, locked, per session (by attendee key); none: absent."""
        rows = await self.session.execute(
            sa.select(attendance)
            .where(attendance.c.session_id.in_(session_ids))
            .order_by(attendance.c.session_id, attendance.c.attendee_key)
            .with_for_update()
        )
        found: dict[uuid.UUID, list[Row]] = {}
        for r in rows.mappings():
            found.setdefault(_uuid(r["session_id"]), []).append(dict(r))
        return found

    async def records_of_programme(self, programme_id: uuid.UUID) -> list[Row]:
        rows = await self.session.execute(
            sa.select(attendance)
            .where(
                attendance.c.programme_id == programme_id,
                attendance.c.participant_id.is_not(None),
            )
            .order_by(attendance.c.session_id, attendance.c.attendee_key)
            .with_for_update()
        )
        return [dict(r) for r in rows.mappings()]

    async def page_of_session(
        self, session_id: uuid.UUID, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return await self._page(
            sa.select(attendance).where(attendance.c.session_id == session_id),
            [attendance.c.attendee_key],
            limit,
            offset,
        )

    async def add_adjustment(self, values: Row) -> None:
        await self.session.execute(sa.insert(attendance_adjustments).values(**values))

    async def adjustments(
        self, session_id: uuid.UUID, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return await self._page(
            sa.select(attendance_adjustments).where(
                attendance_adjustments.c.session_id == session_id
            ),
            [attendance_adjustments.c.created_at, attendance_adjustments.c.id],
            limit,
            offset,
        )

    # ------------------------------------------------------------------ credit

    async def rule(self, programme_id: uuid.UUID) -> CreditRule | None:
        row = await self._first(
            sa.select(credit_rules)
            .where(credit_rules.c.programme_id == programme_id)
            .order_by(credit_rules.c.version.desc())
            .limit(1)
        )
        if row is None:
            return None
        return CreditRule(row["version"], row["min_percent"], Decimal(row["rounding_hours"]))

    async def programmes_with_rules(self, programme_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Those of `programme_ids` that have a credit rule."""
        found = await self.session.scalars(
            sa.select(credit_rules.c.programme_id)
            .where(credit_rules.c.programme_id.in_(programme_ids))
            .distinct()
        )
        return {_uuid(p) for p in found}

    async def add_rules(
        self, programme_ids: list[uuid.UUID], rule: CreditRule, created_by: str
    ) -> None:
        """Give each programme the same rule (one statement)."""
        now = datetime.now(UTC)
        await self.session.execute(
            sa.insert(credit_rules),
            [
                {
                    "programme_id": p,
                    "version": rule.version,
                    "min_percent": rule.min_percent,
                    "rounding_hours": rule.rounding_hours,
                    "created_by": created_by,
                    "created_at": now,
                }
                for p in programme_ids
            ],
        )

    async def add_rule(self, programme_id: uuid.UUID, rule: CreditRule, created_by: str) -> None:
        await self.session.execute(
            sa.insert(credit_rules).values(
                programme_id=programme_id,
                version=rule.version,
                min_percent=rule.min_percent,
                rounding_hours=rule.rounding_hours,
                created_by=created_by,
                created_at=datetime.now(UTC),
            )
        )

    async def credit(self, participant_id: uuid.UUID, session_id: uuid.UUID) -> Row | None:
        return await self._first(
            sa.select(credits).where(
                credits.c.participant_id == participant_id, credits.c.session_id == session_id
            )
        )

    async def save_credit(self, values: Row, *, new: bool) -> None:
        values = {**values, "updated_at": datetime.now(UTC)}
        if new:
            await self.session.execute(sa.insert(credits).values(**values))
        else:
            await self.session.execute(
                sa.update(credits).where(credits.c.id == values["id"]).values(**values)
            )

    async def credits_of(
        self, participant_id: uuid.UUID, programme_id: uuid.UUID | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        where = [credits.c.participant_id == participant_id]
        if programme_id is not None:
            where.append(credits.c.programme_id == programme_id)
        query = (
            sa.select(
                credits,
                sessions.c.starts_at,
                sessions.c.ends_at,
                attendance.c.attended_seconds,
                attendance.c.adjusted,
            )
            .join(sessions, sessions.c.id == credits.c.session_id, isouter=True)
            .join(
                attendance,
                sa.and_(
                    attendance.c.session_id == credits.c.session_id,
                    attendance.c.participant_id == credits.c.participant_id,
                ),
                isouter=True,
            )
            .where(*where)
        )
        return await self._page(query, [sessions.c.starts_at, credits.c.session_id], limit, offset)

    # ------------------------------------------------------------------ certificates

    async def certificate(self, participant_id: uuid.UUID, programme_id: uuid.UUID) -> Row | None:
        return await self._first(
            sa.select(certificates).where(
                certificates.c.participant_id == participant_id,
                certificates.c.programme_id == programme_id,
            )
        )

    async def save_certificate(self, values: Row, *, new: bool) -> None:
        if new:
            await self.session.execute(sa.insert(certificates).values(**values))
        else:
            await self.session.execute(
                sa.update(certificates).where(certificates.c.id == values["id"]).values(**values)
            )

    # ------------------------------------------------------------------ guests

    async def guest_policy(self, programme_id: uuid.UUID) -> GuestPolicy:
        stmt = self._built(
            "guest_policy",
            lambda _: sa.select(guest_policies).where(
                guest_policies.c.programme_id == sa.bindparam("b_programme")
            ),
        )
        row = (await self.session.execute(stmt, {"b_programme": programme_id})).mappings().first()
        if row is None:
            return GuestPolicy()
        return GuestPolicy(row["max_guests_per_session"], row["register_after_sessions"])

    async def set_guest_policy(
        self, programme_id: uuid.UUID, policy: GuestPolicy, actor: str
    ) -> None:
        values = {
            "max_guests_per_session": policy.max_guests_per_session,
            "register_after_sessions": policy.register_after_sessions,
            "updated_by": actor,
            "updated_at": datetime.now(UTC),
        }
        stmt = self._insert(guest_policies).values(programme_id=programme_id, **values)
        await self.session.execute(
            stmt.on_conflict_do_update(index_elements=["programme_id"], set_=values)
        )

    async def ensure_guest(
        self, programme_id: uuid.UUID, attendee_key: str, name: str | None, email: str | None
    ) -> uuid.UUID:
        """The programme's guest with this key, made on first sight (same email, same guest).

        One upsert: a guest known without a name takes the one given now.
        """
        found = await self.session.scalar(
            self._built("ensure_guest", _ensure_guest),
            {
                "id": uuid.uuid4(),
                "programme_id": programme_id,
                "attendee_key": attendee_key,
                "name": name,
                "email": email,
                "created_at": datetime.now(UTC),
            },
        )
        return _uuid(found)

    async def lock_session(self, session_id: uuid.UUID) -> None:
        """Serialise guest admissions of one session (PostgreSQL row lock; SQLite's write lock)."""
        await self.session.execute(
            sa.select(sessions.c.id).where(sessions.c.id == session_id).with_for_update()
        )

    async def guest_admitted(self, session_id: uuid.UUID, guest_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            sa.select(guest_admissions.c.guest_id).where(
                guest_admissions.c.session_id == session_id,
                guest_admissions.c.guest_id == guest_id,
            )
        )
        return found is not None

    async def guest_places_taken(self, session_id: uuid.UUID, at_most: int) -> int:
        """Guests admitted to the session, counted up to `at_most` (the cap is all that matters)."""
        taken = (
            sa.select(sa.literal(1))
            .select_from(guest_admissions)
            .where(guest_admissions.c.session_id == session_id)
            .limit(at_most)
            .subquery()
        )
        count = await self.session.scalar(sa.select(sa.func.count()).select_from(taken))
        return int(count or 0)

    async def guest_sessions_attended(
        self, programme_id: uuid.UUID, attendee_key: str, other_than: uuid.UUID
    ) -> int:
        """Other sessions of the programme this guest was present in (over the limit or not)."""
        count = await self.session.scalar(
            sa.select(sa.func.count(sa.distinct(attendance.c.session_id))).where(
                attendance.c.programme_id == programme_id,
                attendance.c.attendee_key == attendee_key,
                attendance.c.session_id != other_than,
            )
        )
        return int(count or 0)

    async def admit_guest(self, session_id: uuid.UUID, guest_id: uuid.UUID) -> None:
        stmt = self._built(
            "admit_guest",
            lambda d: d.insert(guest_admissions).on_conflict_do_nothing(
                index_elements=["session_id", "guest_id"]
            ),
        )
        await self.session.execute(
            stmt, {"session_id": session_id, "guest_id": guest_id, "admitted_at": datetime.now(UTC)}
        )

    # ------------------------------------------------------------------ evaluation forms

    async def evaluation_form(
        self, programme_id: uuid.UUID, version: int | None = None
    ) -> EvaluationForm | None:
        """A version of the programme's form (the current one when `version` is None)."""
        query = sa.select(evaluation_forms).where(evaluation_forms.c.programme_id == programme_id)
        if version is not None:
            query = query.where(evaluation_forms.c.version == version)
        row = await self._first(query.order_by(evaluation_forms.c.version.desc()).limit(1))
        return None if row is None else _form(row)

    async def add_evaluation_form(
        self, programme_id: uuid.UUID, form: EvaluationForm, actor: str
    ) -> None:
        await self.session.execute(
            sa.insert(evaluation_forms).values(
                programme_id=programme_id,
                version=form.version,
                questions=[
                    {
                        "code": q.code,
                        "kind": q.kind.value,
                        "text": q.text,
                        "required": q.required,
                        "language": q.language,
                    }
                    for q in form.questions
                ],
                anonymous=form.anonymous,
                send_after_minutes=form.send_after_minutes,
                open_days=form.open_days,
                created_by=actor,
                created_at=datetime.now(UTC),
            )
        )

    # ------------------------------------------------------------------ evaluation rounds

    async def claim_evaluation_round(self, values: Row) -> bool:
        """Claim a session's survey round; False when another sender already did (exactly once)."""
        result = await self.session.execute(
            self._insert(evaluation_rounds)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["session_id"])
        )
        return bool(_rowcount(result))

    async def set_invited(self, session_id: uuid.UUID, invited: int) -> None:
        await self.session.execute(
            sa.update(evaluation_rounds)
            .where(evaluation_rounds.c.session_id == session_id)
            .values(invited=invited)
        )

    async def evaluation_round(self, session_id: uuid.UUID) -> Row | None:
        return await self._first(
            sa.select(evaluation_rounds).where(evaluation_rounds.c.session_id == session_id)
        )

    async def evaluation_attendees(self, session_id: uuid.UUID) -> list[uuid.UUID]:
        """Registered participants with any attended time in the session (guests excluded)."""
        rows = await self.session.scalars(
            sa.select(attendance.c.participant_id)
            .where(
                attendance.c.session_id == session_id,
                attendance.c.participant_id.is_not(None),
                attendance.c.attended_seconds > 0,
            )
            .order_by(attendance.c.participant_id)
        )
        return [uuid.UUID(str(r)) for r in rows]

    async def attended(self, session_id: uuid.UUID, participant_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            sa.select(attendance.c.id).where(
                attendance.c.session_id == session_id,
                attendance.c.participant_id == participant_id,
                attendance.c.attended_seconds > 0,
            )
        )
        return found is not None

    async def add_evaluation_requests(self, rows: list[Row]) -> None:
        if rows:
            await self.session.execute(sa.insert(evaluation_requests), rows)

    async def evaluation_request(self, request_id: uuid.UUID) -> Row | None:
        return await self._first(
            sa.select(evaluation_requests).where(evaluation_requests.c.id == request_id)
        )

    async def sessions_due_for_evaluation(self, now: datetime, since: datetime) -> list[Row]:
        """Ended sessions since `since` whose programme has a form and that have no round yet."""
        has_form = sa.exists().where(evaluation_forms.c.programme_id == sessions.c.programme_id)
        has_round = sa.exists().where(evaluation_rounds.c.session_id == sessions.c.id)
        rows = await self.session.execute(
            sa.select(sessions)
            .where(
                sessions.c.status != "cancelled",
                sessions.c.ends_at.is_not(None),
                sessions.c.ends_at <= now,
                sessions.c.ends_at >= since,
                has_form,
                ~has_round,
            )
            .order_by(sessions.c.ends_at)
        )
        return [dict(r) for r in rows.mappings()]

    # ------------------------------------------------------------------ evaluation answers

    async def mark_answered(self, session_id: uuid.UUID, marker: str) -> bool:
        """Record that someone answered; False when they already had (one answer per person)."""
        result = await self.session.execute(
            self._insert(evaluation_markers)
            .values(session_id=session_id, marker=marker)
            .on_conflict_do_nothing(index_elements=["session_id", "marker"])
        )
        return bool(_rowcount(result))

    async def marker_free(self, session_id: uuid.UUID, marker: str) -> bool:
        found = await self.session.scalar(
            sa.select(evaluation_markers.c.marker).where(
                evaluation_markers.c.session_id == session_id,
                evaluation_markers.c.marker == marker,
            )
        )
        return found is None

    async def add_evaluation_response(self, values: Row) -> None:
        await self.session.execute(sa.insert(evaluation_responses).values(**values))

    async def evaluation_responses(
        self, session_id: uuid.UUID, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return await self._page(
            sa.select(evaluation_responses).where(evaluation_responses.c.session_id == session_id),
            [evaluation_responses.c.submitted_on, evaluation_responses.c.id],
            limit,
            offset,
        )

    async def programme_evaluations(self, programme_id: uuid.UUID) -> tuple[list[Row], list[Row]]:
        """The programme's survey rounds and the scores of its responses (no comments)."""
        rounds = await self.session.execute(
            sa.select(evaluation_rounds)
            .where(evaluation_rounds.c.programme_id == programme_id)
            .order_by(evaluation_rounds.c.opened_at)
        )
        responses = await self.session.execute(
            sa.select(
                evaluation_responses.c.session_id,
                evaluation_responses.c.form_version,
                evaluation_responses.c.scores,
                evaluation_responses.c.comment.is_not(None).label("has_comment"),
            ).where(evaluation_responses.c.programme_id == programme_id)
        )
        return [dict(r) for r in rounds.mappings()], [dict(r) for r in responses.mappings()]


def _form(row: Row) -> EvaluationForm:
    return EvaluationForm(
        version=int(row["version"]),
        questions=tuple(
            Question(
                code=q["code"],
                kind=QuestionKind(q["kind"]),
                text=q["text"],
                required=bool(q["required"]),
                language=q.get("language"),
            )
            for q in row["questions"]
        ),
        anonymous=bool(row["anonymous"]),
        send_after_minutes=int(row["send_after_minutes"]),
        open_days=int(row["open_days"]),
    )


def window_of(row: Row) -> Window | None:
    """A session row's scheduled window (None while only its cancellation is known)."""
    if row.get("ends_at") is None:
        return None
    return Window(utc(row["starts_at"]), utc(row["ends_at"]))


def _session_at(by_email: bool, by_token: bool) -> Any:
    """Sessions of a meeting around a time, each with its registrant and guest policy."""
    registrant: Any = sa.null()
    if by_email or by_token:
        registrant = _registrant(by_email, by_token, correlated=True).scalar_subquery()
    return (
        sa.select(
            sessions,
            registrant.label("b_registrant"),
            guest_policies.c.max_guests_per_session.label("b_max_guests"),
            guest_policies.c.register_after_sessions.label("b_register_after"),
        )
        .join(video_meetings, video_meetings.c.programme_id == sessions.c.programme_id)
        .outerjoin(guest_policies, guest_policies.c.programme_id == sessions.c.programme_id)
        .where(
            video_meetings.c.provider == sa.bindparam("b_provider"),
            video_meetings.c.meeting_id == sa.bindparam("b_meeting"),
            sessions.c.status != "cancelled",
            sessions.c.ends_at.is_not(None),
            sessions.c.starts_at <= sa.bindparam("b_latest", type_=sessions.c.starts_at.type),
            sessions.c.ends_at >= sa.bindparam("b_earliest", type_=sessions.c.ends_at.type),
        )
    )


def _registrant(by_email: bool, by_token: bool, correlated: bool = False) -> Any:
    matches = []
    if by_email:
        matches.append(registrations.c.email == sa.bindparam("b_email"))
    if by_token:
        matches.append(registrations.c.join_token == sa.bindparam("b_token"))
    programme = sessions.c.programme_id if correlated else sa.bindparam("b_programme")
    return (
        sa.select(registrations.c.participant_id)
        .where(registrations.c.programme_id == programme, sa.or_(*matches))
        # The email of the registration wins over a token someone else may have shared.
        .order_by(sa.case((matches[0], 0), else_=1))
        .limit(1)
    )


def _lock_record(dialect: Any) -> Any:
    stmt = dialect.insert(attendance)
    return stmt.on_conflict_do_update(
        index_elements=["session_id", "attendee_key"],
        set_={"updated_at": stmt.excluded.updated_at},
    ).returning(*attendance.c)


def _ensure_guest(dialect: Any) -> Any:
    """Insert a guest, or take a name for a known one that has none; the guest's id."""
    stmt = dialect.insert(guests)
    return stmt.on_conflict_do_update(
        index_elements=["programme_id", "attendee_key"],
        set_={
            "name": sa.case(
                (
                    sa.and_(
                        sa.func.coalesce(guests.c.name, "") == "",
                        sa.func.coalesce(stmt.excluded.name, "") != "",
                    ),
                    stmt.excluded.name,
                ),
                else_=guests.c.name,
            )
        },
    ).returning(guests.c.id)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _rowcount(result: Any) -> int:
    """Rows an INSERT ... ON CONFLICT DO NOTHING wrote (a CursorResult under the hood)."""
    return int(result.rowcount)
