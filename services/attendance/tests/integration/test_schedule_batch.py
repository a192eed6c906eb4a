"""The scheduling batch handler: a run of events gives what applying them one by one gives."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from echo_attendance.adapters.tables import (
    attendance,
    credit_rules,
    credits,
    programme_titles,
    programmes,
    sessions,
)
from echo_attendance.service_layer.schedule import ScheduleHandlers
from echo_contracts import (
    Envelope,
    Event,
    ProgrammeCreated,
    ProgrammeProfileUpdated,
    SessionCancelled,
    SessionRescheduled,
    SessionScheduled,
    decode,
    new_envelope,
    subject_for,
    to_wire,
)
from echo_contracts.topology import consumer_for
from echo_runtime.consumer import EventConsumer, PermanentEventError
from echo_runtime.testing import eventually

pytestmark = pytest.mark.integration

LABELS = ("P", "P2", "S1", "S2", "S3", "S4", "S5")


def _env(event: Event, at: datetime | None = None) -> Envelope[Any]:
    env = new_envelope(event, region="ontario", service="scheduling")
    return env if at is None else env.model_copy(update={"time": at})


def _programme(pid: uuid.UUID, timezone: str = "America/Toronto") -> Event:
    return ProgrammeCreated(
        programme_id=pid,
        region="ontario",
        language="en",
        timezone=timezone,
        session_minutes=100,
        starts_on=date(2026, 1, 5),
    )


def _scheduled(
    sid: uuid.UUID, pid: uuid.UUID, start: datetime, minutes: int, sequence: int = 0
) -> Event:
    return SessionScheduled(
        session_id=sid,
        programme_id=pid,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        timezone="America/Toronto",
        sequence=sequence,
    )


def _moved(sid: uuid.UUID, pid: uuid.UUID, start: datetime, minutes: int, sequence: int) -> Event:
    return SessionRescheduled(
        session_id=sid,
        programme_id=pid,
        previous_starts_at=start,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        timezone="America/Toronto",
        sequence=sequence,
    )


def _run(ids: dict[str, uuid.UUID], start: datetime) -> list[Envelope[Any]]:
    """Everything a run can hold: out-of-order sequences, a session moved twice (with records),
    a cancellation before its schedule, a programme created again and after one of its
    sessions, titles out of time order."""
    p, p2, s1, s2, s3, s4, s5 = (ids[k] for k in LABELS)
    week = timedelta(weeks=1)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        _env(_moved(s1, p, start, 50, 3)),  # shortens S1: records and credit recomputed
        _env(_moved(s1, p, start, 100, 2)),  # older: ignored
        _env(SessionCancelled(session_id=s2, programme_id=p, starts_at=start + week, sequence=1)),
        _env(_scheduled(s2, p, start + week, 100)),  # older: only tells the length
        _env(ProgrammeProfileUpdated(programme_id=p, title="Newer title"), t0 + timedelta(days=2)),
        _env(ProgrammeProfileUpdated(programme_id=p, title="Older title"), t0 + timedelta(days=1)),
        _env(_scheduled(s4, p2, start, 90)),  # before its programme (and its default rule)
        _env(_programme(p2)),
        _env(_scheduled(s3, p, start + 2 * week, 100)),
        _env(_programme(p, timezone="America/Winnipeg")),  # known: takes the new values
        _env(_moved(s1, p, start, 100, 4)),  # S1 moved again, back to 100 minutes
        _env(SessionCancelled(session_id=s5, programme_id=p2, starts_at=start, sequence=1)),
        _env(_scheduled(s5, p2, start, 60)),
        _env(_moved(s4, p2, start, 95, 1)),
    ]


def _plain(value: Any, names: dict[uuid.UUID, str]) -> Any:
    if isinstance(value, uuid.UUID):
        return names.get(value, "<other id>")
    if isinstance(value, str) and len(value) == 36:
        try:
            return names.get(uuid.UUID(value), value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, dict):
        return {k: _plain(v, names) for k, v in value.items()}
    return value


async def _state(w: Any, ids: dict[str, uuid.UUID], person: uuid.UUID) -> dict[str, Any]:
    """Everything the run may have written, with this variant's ids replaced by labels."""
    names = {v: k for k, v in ids.items()} | {person: "person"}
    pids = [ids["P"], ids["P2"]]
    skip = {"updated_at", "created_at"}
    queries = {
        "programmes": sa.select(programmes).where(programmes.c.id.in_(pids)),
        "titles": sa.select(programme_titles).where(programme_titles.c.programme_id.in_(pids)),
        "rules": sa.select(credit_rules).where(credit_rules.c.programme_id.in_(pids)),
        "sessions": sa.select(sessions).where(sessions.c.programme_id.in_(pids)),
        "records": sa.select(attendance).where(attendance.c.programme_id.in_(pids)),
        "credits": sa.select(credits).where(credits.c.programme_id.in_(pids)),
    }
    out: dict[str, Any] = {}
    async with w.runtime.db.session() as session:
        for name, query in queries.items():
            rows = [
                {k: _plain(v, names) for k, v in dict(r).items() if k not in skip}
                for r in (await session.execute(query)).mappings()
            ]
            out[name] = sorted(rows, key=repr)
        outbox = w.runtime.metadata.tables["outbox"]
        events = []
        for row in await session.execute(sa.select(outbox.c.body).order_by(outbox.c.seq)):
            env = decode(row.body)
            data = env.data.model_dump(mode="json")
            recomputed = env.type.split(".")[2] in ("attendance_recorded", "credit_awarded")
            if recomputed and data["programme_id"] in {str(p) for p in pids}:
                data.pop("attendance_id", None)
                data.pop("credit_id", None)
                events.append((env.type, _plain(data, names)))
        out["events"] = events
    return out


async def _variant(make_world: Any, kit: Any, database_url: str, *, batched: bool) -> Any:
    async with make_world(database_url, None, None) as w:
        handlers = ScheduleHandlers(w.runtime.settings)
        handlers.runtime = w.runtime
        ids = {k: uuid.uuid4() for k in LABELS} | {"P": w.programme_id, "S1": w.session_id}
        start = kit.SESSION_START

        async def apply(envs: list[Envelope[Any]]) -> None:
            async with w.runtime.db.transaction() as session:
                await handlers.when_scheduling_told_apply_run(session, envs)

        for event in (
            _programme(ids["P"]),
            _scheduled(ids["S1"], ids["P"], start, 100),
            _scheduled(ids["S2"], ids["P"], start + timedelta(weeks=1), 100),
        ):
            await apply([_env(event)])
        person = await w.participant(f"kim.{'b' if batched else 'o'}@example.org")
        for kind, minutes in (("join", 0), ("leave", 60)):
            body = kit.generic_body(
                kind,
                ids["S1"],
                start + timedelta(minutes=minutes),
                join_token=person["join_token"],
            )
            r = await w.client.post(
                "/v1/webhooks/video/generic", content=body, headers=kit.generic_headers(body)
            )
            assert r.status_code == 200, r.text
        run = _run(ids, start)
        if batched:
            await apply(run)
        else:
            for env in run:
                await apply([env])
        return await _state(w, ids, uuid.UUID(person["id"]))


async def test_a_run_of_scheduling_events_equals_applying_them_one_by_one(
    make_world: Any, kit: Any, database_url: str
) -> None:
    one_by_one = await _variant(make_world, kit, database_url, batched=False)
    batched = await _variant(make_world, kit, database_url, batched=True)
    assert batched == one_by_one
    # And what one by one gives is what the rules say.
    by_label = {s["id"]: s for s in one_by_one["sessions"]}
    assert set(by_label) == {"S1", "S2", "S3", "S4", "S5"}
    assert by_label["S1"]["sequence"] == 4 and by_label["S1"]["status"] == "scheduled"
    assert by_label["S2"]["status"] == "cancelled" and by_label["S2"]["ends_at"] is not None
    assert by_label["S5"]["status"] == "cancelled" and by_label["S5"]["ends_at"] is not None
    assert by_label["S4"]["sequence"] == 1
    [title] = one_by_one["titles"]
    assert title["title"] == "Newer title"
    assert {p["id"]: p["timezone"] for p in one_by_one["programmes"]} == {
        "P": "America/Winnipeg",
        "P2": "America/Toronto",
    }
    assert len(one_by_one["rules"]) == 2
    [record] = one_by_one["records"]
    # Recomputed twice: 100 min (60 attended) -> 50 min (50 attended) -> 100 min again.
    assert record["attended_seconds"] == 3600 and record["revision"] == 4
    recorded = [d for t, d in one_by_one["events"] if t.split(".")[2] == "attendance_recorded"]
    assert [d["session_seconds"] for d in recorded][-2:] == [3000, 6000]


async def test_a_consumer_batch_drops_duplicates_and_isolates_a_bad_event(
    make_world: Any, kit: Any, database_url: str, js: Any
) -> None:
    """Copies of events in one fetched batch apply once; an event the handler cannot apply,
    in the middle of a run, goes to the DLQ alone while the rest of the run is applied."""

    class Poisoned(ScheduleHandlers):
        poison: uuid.UUID | None = None

        async def when_scheduling_told_apply_run(self, session: Any, run: Any) -> None:
            if any(getattr(e.data, "session_id", None) == self.poison for e in run):
                raise PermanentEventError("this session cannot be applied")
            await super().when_scheduling_told_apply_run(session, run)

    start = kit.SESSION_START
    async with make_world(database_url, None, None) as w:
        handlers = Poisoned(w.runtime.settings)
        handlers.runtime = w.runtime
        pid, good, bad, late = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        handlers.poison = bad
        first = _env(_moved(good, pid, start, 60, 1))
        stream_order = [
            _env(_programme(pid)),
            first,
            _env(_moved(good, pid, start, 80, 2)),
            first,  # a redelivered copy, after a newer update: must change nothing
            _env(_scheduled(bad, pid, start, 100)),
            _env(_scheduled(late, pid, start, 70)),
            first,
        ]
        sub = await js.pull_subscribe("echo.ontario.scheduling.>", stream="ECHO_ONTARIO")
        for env in stream_order:
            await js.publish(
                subject_for("ontario", env.data),
                to_wire(env),
                headers={"Nats-Msg-Id": f"{env.id}-{uuid.uuid4()}"},
            )
        consumer = EventConsumer(
            consumer_for("attendance"),
            w.runtime.db,
            w.runtime.metadata.tables["inbox"],
            handlers.mapping(),
        )
        msgs = await sub.fetch(20, timeout=2)
        assert len(msgs) == len(stream_order)
        await consumer.process(msgs)

        async def stored() -> dict[Any, Any]:
            async with w.runtime.db.session() as session:
                rows = await session.execute(
                    sa.select(sessions.c.id, sessions.c.sequence, sessions.c.ends_at).where(
                        sessions.c.programme_id == pid
                    )
                )
                return {r.id: (r.sequence, _aware(r.ends_at) - start) for r in rows}

        got = await eventually(stored)
        assert got == {good: (2, timedelta(minutes=80)), late: (0, timedelta(minutes=70))}
        # Again (a redelivery of the whole batch): nothing changes.
        for env in stream_order:
            await js.publish(
                subject_for("ontario", env.data),
                to_wire(env),
                headers={"Nats-Msg-Id": f"{env.id}-{uuid.uuid4()}"},
            )
        again = await sub.fetch(20, timeout=2)
        assert len(again) == len(stream_order)
        await consumer.process(again)
        assert await stored() == got


def _aware(at: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)
