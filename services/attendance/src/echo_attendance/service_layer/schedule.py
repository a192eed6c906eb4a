"""Keep the programmes and session windows told by scheduling; recompute when a window moves."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from echo_contracts import (
    Envelope,
    Event,
    ProgrammeCreated,
    ProgrammeProfileUpdated,
    SessionCancelled,
    SessionRescheduled,
    SessionScheduled,
)
from echo_runtime.consumer import BatchHandler
from echo_runtime.logging import get_logger
from echo_runtime.service import ServiceRuntime
from sqlalchemy.ext.asyncio import AsyncSession

from echo_attendance.adapters.repository import Row, SqlaAttendanceRepository
from echo_attendance.domain.model import CreditRule
from echo_attendance.service_layer.recording import refresh_record
from echo_attendance.settings import AttendanceSettings

log = get_logger(__name__)

#: The scheduling events this service keeps (one batch handler takes every run of them).
SCHEDULING = (
    ProgrammeCreated,
    ProgrammeProfileUpdated,
    SessionScheduled,
    SessionRescheduled,
    SessionCancelled,
)


def next_session_row(current: Row | None, update: Row) -> tuple[Row, bool]:
    """A session row after one update, and whether its window or status changed.

    The latest update by `sequence` wins (not arrival); at an equal sequence a cancellation
    wins. An older schedule arriving after a cancellation still tells how long the session was.
    """
    if current is None:
        return update, True
    newer = update["sequence"] > current["sequence"] or (
        update["sequence"] == current["sequence"]
        and update["status"] == "cancelled"
        and current["status"] != "cancelled"
    )
    if not newer:
        if current["ends_at"] is None and update["ends_at"] is not None:
            return {**current, "ends_at": update["ends_at"]}, False
        return current, False
    return {
        **current,
        "starts_at": update["starts_at"],
        "ends_at": update["ends_at"] if update["ends_at"] is not None else current["ends_at"],
        "status": update["status"],
        "sequence": update["sequence"],
    }, True


class ScheduleHandlers:
    """Event handlers; they only use the session they are given (one transaction per batch)."""

    def __init__(self, settings: AttendanceSettings) -> None:
        self.settings = settings
        self.runtime: ServiceRuntime | None = None

    def mapping(self) -> dict[type[Any], Any]:
        # One handler object for all five types: a backlog (a programme, then its sessions)
        # is then one run per fetched batch, written with a few set-based statements.
        handler = BatchHandler(self.when_scheduling_told_apply_run)
        return dict.fromkeys(SCHEDULING, handler)

    def default_rule(self) -> CreditRule:
        return CreditRule(
            1,
            self.settings.default_min_percent,
            Decimal(str(self.settings.default_rounding_hours)),
        )

    async def when_scheduling_told_apply_run(
        self, session: AsyncSession, run: list[Envelope[Any]]
    ) -> None:
        """Apply a run of scheduling events as if one by one in stream order, in a few statements.

        The tables each event type writes are disjoint, so each is folded in memory (per key, in
        stream order) and written once: programmes (the last creation wins, a default credit rule
        when the programme had none), titles (the latest by event time), sessions (read locked
        once, each update applied in order by `next_session_row`, the changed rows upserted).
        Records are recomputed for each session change, in stream order, with the credit rule
        that held at that event, exactly as one by one would (they are rare in a backlog).
        """
        # Core statements on the transaction's connection (no ORM execute path).
        repo = SqlaAttendanceRepository(await session.connection())
        created: dict[uuid.UUID, ProgrammeCreated] = {}
        created_at: dict[uuid.UUID, int] = {}
        titles: dict[uuid.UUID, tuple[str, datetime]] = {}
        changes: list[tuple[int, Envelope[Any]]] = []
        for index, env in enumerate(run):
            data = env.data
            if isinstance(data, ProgrammeCreated):
                created[data.programme_id] = data
                created_at.setdefault(data.programme_id, index)
            elif isinstance(data, ProgrammeProfileUpdated):
                held = titles.get(data.programme_id)
                if held is None or held[1] <= env.time:  # a tie: the later arrival wins
                    titles[data.programme_id] = (data.title, env.time)
            else:
                changes.append((index, env))
        defaulted: set[uuid.UUID] = set()
        if created:
            await repo.upsert_programmes(
                [
                    {
                        "id": d.programme_id,
                        "region": d.region,
                        "timezone": d.timezone,
                        "session_minutes": d.session_minutes,
                        "starts_on": d.starts_on,
                        "ends_on": d.ends_on,
                    }
                    for d in created.values()
                ]
            )
            ruled = await repo.programmes_with_rules(list(created))
            defaulted = {p for p in created if p not in ruled}
            if defaulted:
                await repo.add_rules(
                    [p for p in created if p in defaulted], self.default_rule(), "default"
                )
        if titles:
            await repo.set_titles(
                [
                    {"programme_id": p, "title": title, "as_of": as_of}
                    for p, (title, as_of) in titles.items()
                ]
            )
        if changes:
            await self._apply_session_changes(session, repo, changes, created_at, defaulted)

    async def _apply_session_changes(
        self,
        session: AsyncSession,
        repo: SqlaAttendanceRepository,
        changes: list[tuple[int, Envelope[Any]]],
        created_at: dict[uuid.UUID, int],
        defaulted: set[uuid.UUID],
    ) -> None:
        ids = list(dict.fromkeys(env.data.session_id for _, env in changes))
        stored = await repo.sessions_for_update(ids)
        rows: dict[uuid.UUID, Row] = dict(stored)
        moved: list[tuple[int, Envelope[Any], Row]] = []
        for index, env in changes:
            data = env.data
            cancelled = isinstance(data, SessionCancelled)
            update = {
                "id": data.session_id,
                "programme_id": data.programme_id,
                "region": env.region,
                "starts_at": data.starts_at,
                "ends_at": None if cancelled else data.ends_at,
                "status": "cancelled" if cancelled else "scheduled",
                "sequence": data.sequence,
            }
            row, changed = next_session_row(rows.get(data.session_id), update)
            rows[data.session_id] = row
            if changed and not cancelled:
                moved.append((index, env, row))
        await repo.save_sessions([r for k, r in rows.items() if stored.get(k) is not r])
        if not moved:
            return
        # New sessions have no records: read (and lock) the records of every moved session in
        # one statement; a session moved twice in the run is read again before its second
        # recompute, which must see the first one's results.
        records = await repo.records_of_sessions(list(dict.fromkeys(r["id"] for _, _, r in moved)))
        if not records:
            return
        rules: dict[uuid.UUID, CreditRule | None] = {}
        seen: set[uuid.UUID] = set()
        for index, env, row in moved:
            session_id = row["id"]
            if session_id not in records:
                continue
            if session_id in seen:
                of_session = await repo.records_of_session(session_id)
            else:
                of_session = records[session_id]
                seen.add(session_id)
            programme_id = row["programme_id"]
            if programme_id not in rules:
                rules[programme_id] = await repo.rule(programme_id)
            rule = rules[programme_id]
            if programme_id in defaulted and created_at[programme_id] > index:
                rule = None  # the programme (and its default rule) came later in the run
            events: list[Event] = []
            for record in of_session:
                events.extend(await refresh_record(repo, row, record, rule=rule, rule_known=True))
            if events and self.runtime is not None:
                await self.runtime.emit(session, env.region, *events, cause=env)
                log.info("attendance_recomputed", session_id=str(session_id), events=len(events))
