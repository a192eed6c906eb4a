"""Reports: the network, one region, one programme; totals, a breakdown and months."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from echo_runtime.database import Database

from echo_reporting.adapters.repository import SqlaReadModelRepository
from echo_reporting.domain.metrics import (
    NETWORK_METRICS,
    PROFESSIONS,
    REGIONAL_METRICS,
    DateRange,
    compute,
    months,
)
from echo_reporting.domain.model import ReadModel
from echo_reporting.domain.outcomes import (
    FLAT_EVALUATION,
    OUTCOME_METRICS,
    by_session,
    evaluation_detail,
    flat_evaluation,
    moore_levels,
    of_session,
    report_sessions,
)


@dataclass(frozen=True)
class ReportQuery:
    rng: DateRange = field(default_factory=DateRange)
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))


class ProgrammeNotFound(LookupError):
    """No programme with that id that the caller may read."""


@dataclass(frozen=True)
class SessionPlace:
    """Where a session's events came from: its region and programme."""

    region: str
    programme_id: uuid.UUID


def _period(q: ReportQuery) -> dict[str, Any]:
    return {
        "from": q.rng.start.isoformat() if q.rng.start else None,
        "to": q.rng.end.isoformat() if q.rng.end else None,
        "as_of": q.as_of.isoformat(),
    }


def _months(model: ReadModel, q: ReportQuery, *, regional: bool) -> list[dict[str, Any]]:
    return [
        {"month": m, **compute(model, q.rng.month(m), q.as_of, regional=regional)}
        for m in months(model, q.rng)
    ]


def network_report(model: ReadModel, regions: list[str], q: ReportQuery) -> dict[str, Any]:
    """Network-wide numbers, per region and by month, from `network` events only."""
    net = model.network_only()
    totals = compute(net, q.rng, q.as_of, regional=False)
    return {
        "scope": "network",
        **_period(q),
        "totals": totals,
        "moore": moore_levels(totals),
        "regions": [
            {"region": r, **compute(net.in_region(r), q.rng, q.as_of, regional=False)}
            for r in regions
        ],
        "months": _months(net, q, regional=False),
    }


def _programme_ids(model: ReadModel) -> list[uuid.UUID]:
    ids = {k for k, p in model.rows["programmes"].items() if p["created"]}
    for kind in ("sessions", "registrations", "cases"):
        ids.update(r["programme_id"] for r in model.rows[kind].values() if r["programme_id"])
    return sorted(ids, key=str)


def region_report(
    model: ReadModel, region: str, q: ReportQuery, *, window: slice | None = None
) -> dict[str, Any]:
    """One region's numbers (its regional events included), per programme and by month.

    `window` computes only those programmes of the list (a page); `programme_count` is the
    length of the whole list. The rows are split by programme once, not once a programme.
    """
    mine = model.in_region(region)
    ids = _programme_ids(mine)
    parts = mine.by_programme()
    programmes = []
    for pid in ids[window] if window is not None else ids:
        row = mine.rows["programmes"].get(pid)
        programmes.append(
            {
                "programme_id": str(pid),
                "title": row["title"] if row else None,
                **compute(parts.get(pid, ReadModel()), q.rng, q.as_of, regional=True),
            }
        )
    totals = compute(mine, q.rng, q.as_of, regional=True)
    return {
        "scope": "region",
        "region": region,
        **_period(q),
        "totals": totals,
        "moore": moore_levels(totals),
        "programmes": programmes,
        "programme_count": len(ids),
        "programme_titles": [
            {
                "programme_id": str(pid),
                "title": (mine.rows["programmes"].get(pid) or {}).get("title"),
            }
            for pid in ids
        ],
        "months": _months(mine, q, regional=True),
    }


def programme_report(
    model: ReadModel, programme_id: uuid.UUID, region: str, q: ReportQuery
) -> dict[str, Any]:
    """One programme's numbers, overall and by month."""
    mine = model.in_region(region).of_programme(programme_id)
    row = mine.rows["programmes"].get(programme_id)
    totals = compute(mine, q.rng, q.as_of, regional=True)
    return {
        "scope": "programme",
        "programme_id": str(programme_id),
        "region": region,
        "title": row["title"] if row else None,
        "starts_on": row["starts_on"].isoformat() if row and row["starts_on"] else None,
        "ends_on": row["ends_on"].isoformat() if row and row["ends_on"] else None,
        **_period(q),
        "totals": totals,
        "moore": moore_levels(totals),
        "months": _months(mine, q, regional=True),
    }


def session_evaluation(mine: ReadModel, session_id: uuid.UUID, q: ReportQuery) -> dict[str, Any]:
    """One session's survey: invited, answers, scores by kind, and its Moore levels.

    `mine` holds only that session's rows (`of_session`).
    """
    session = mine.rows["sessions"].get(session_id)
    evaluation = mine.rows["evaluations"].get(session_id)
    metrics = compute(mine, DateRange(), q.as_of, regional=True)
    # A session has attendances but no registrations of its own (people register to programmes).
    metrics["registrations"] = None
    return {
        "session_id": str(session_id),
        "starts_at": _iso(session["starts_at"]) if session else None,
        "ends_at": _iso(session["ends_at"]) if session else None,
        "cancelled": bool(session and session["cancelled"]),
        "form_version": evaluation["form_version"] if evaluation else None,
        "closes_at": _iso(evaluation["closes_at"]) if evaluation else None,
        **evaluation_detail(mine, DateRange()),
        "attendances": metrics["attendances"],
        "guest_attendances": metrics["guest_attendances"],
        "distinct_attendees": metrics["distinct_attendees"],
        "moore": moore_levels(metrics),
    }


def _iso(when: Any) -> str | None:
    return when.isoformat() if when is not None else None


def session_evaluation_report(
    model: ReadModel, session_id: uuid.UUID, place: SessionPlace, q: ReportQuery
) -> dict[str, Any]:
    """The per-session evaluation report (`GET /v1/reports/sessions/{id}/evaluations`)."""
    mine = model.in_region(place.region)
    return {
        "scope": "session",
        "region": place.region,
        "programme_id": str(place.programme_id),
        "as_of": q.as_of.isoformat(),
        **session_evaluation(of_session(mine, session_id), session_id, q),
    }


def programme_evaluation_report(
    model: ReadModel, programme_id: uuid.UUID, region: str, q: ReportQuery
) -> dict[str, Any]:
    """A programme's surveys: totals over the range, Moore's levels, and one row per session."""
    mine = model.in_region(region).of_programme(programme_id)
    row = mine.rows["programmes"].get(programme_id)
    totals = compute(mine, q.rng, q.as_of, regional=True)
    parts = by_session(mine)
    return {
        "scope": "programme_evaluations",
        "programme_id": str(programme_id),
        "region": region,
        "title": row["title"] if row else None,
        **_period(q),
        "totals": evaluation_detail(mine, q.rng),
        "moore": moore_levels(totals),
        "sessions": [
            session_evaluation(parts.get(sid, ReadModel()), sid, q)
            for sid in report_sessions(mine, q.rng)
        ],
    }


def session_response_rates(model: ReadModel, q: ReportQuery) -> list[dict[str, Any]]:
    """Each session in the range whose survey was sent: invited, answers and response rate."""
    out = []
    parts = by_session(model)
    for sid in report_sessions(model, q.rng):
        evaluation = model.rows["evaluations"].get(sid)
        if evaluation is None:
            continue
        session = model.rows["sessions"].get(sid)
        detail = evaluation_detail(parts[sid], DateRange())
        out.append(
            {
                "session_id": str(sid),
                "programme_id": str(evaluation["programme_id"]),
                "region": evaluation["region"],
                "starts_at": _iso(session["starts_at"]) if session else None,
                "invited": detail["invited"],
                "responses": detail["responses"],
                "response_rate": detail["response_rate"],
            }
        )
    return out


CSV_KEYS = ("level", "region", "programme_id", "month", "from", "to")


def csv_columns(*, regional: bool) -> list[str]:
    """The stable header of a report's CSV."""
    metrics = REGIONAL_METRICS if regional else NETWORK_METRICS
    # The outcome metrics came later: appended, so the earlier columns keep their places.
    return [*CSV_KEYS, *metrics, *(f"profession_{p}" for p in PROFESSIONS), *OUTCOME_METRICS]


def csv_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """A report flattened: the totals, each region or programme, each month."""
    base = {
        "region": report.get("region", ""),
        "programme_id": report.get("programme_id", ""),
        "month": "",
        "from": report["from"] or "",
        "to": report["to"] or "",
    }

    def flat(level: str, metrics: dict[str, Any], **keys: Any) -> dict[str, Any]:
        row = {**base, "level": level, **keys}
        row.update({k: v for k, v in metrics.items() if k != "professions"})
        row.update({f"profession_{p}": n for p, n in metrics["professions"].items()})
        return row

    out = [flat("total", report["totals"])]
    out += [flat("region", r, region=r["region"]) for r in report.get("regions", [])]
    out += [
        flat("programme", p, programme_id=p["programme_id"]) for p in report.get("programmes", [])
    ]
    out += [flat("month", m, month=m["month"]) for m in report["months"]]
    return out


EVALUATION_CSV_KEYS = ("level", "region", "programme_id", "session_id", "starts_at", "from", "to")


def evaluation_csv_columns() -> list[str]:
    """The stable header of an evaluation report's CSV."""
    return [*EVALUATION_CSV_KEYS, *FLAT_EVALUATION]


def evaluation_csv_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """An evaluation report flattened: the totals (programme) or the session, then each session."""
    base = {
        "region": report["region"],
        "programme_id": report["programme_id"],
        "session_id": "",
        "starts_at": "",
        "from": report.get("from") or "",
        "to": report.get("to") or "",
    }
    if report["scope"] == "session":
        sessions = [report]
        out = []
    else:
        sessions = report["sessions"]
        out = [{**base, "level": "total", **flat_evaluation(report["totals"])}]
    for s in sessions:
        out.append(
            {
                **base,
                "level": "session",
                "session_id": s["session_id"],
                "starts_at": s["starts_at"] or "",
                **flat_evaluation(s),
            }
        )
    return out


async def load_network_report(db: Database, served: list[str], q: ReportQuery) -> dict[str, Any]:
    """The network report over every stored row; every served region is listed."""
    async with db.session() as session:
        repo = SqlaReadModelRepository(session)
        model = await repo.load()
        regions = sorted(set(served) | set(await repo.regions()))
    return network_report(model, regions, q)


async def load_region_report(
    db: Database, region: str, q: ReportQuery, *, window: slice | None = None
) -> dict[str, Any]:
    """One region's report from its stored rows (`window`: only that page of programmes)."""
    async with db.session() as session:
        model = await SqlaReadModelRepository(session).load(region)
    return region_report(model, region, q, window=window)


async def load_programme_report(
    db: Database, programme_id: uuid.UUID, region: str, q: ReportQuery
) -> dict[str, Any]:
    """One programme's report from that programme's stored rows only."""
    async with db.session() as session:
        model = await SqlaReadModelRepository(session).load_programme(region, programme_id)
    return programme_report(model, programme_id, region, q)


async def region_of_programme(db: Database, programme_id: uuid.UUID) -> str | None:
    """The region a programme's events came from; None when no event named it."""
    async with db.session() as session:
        return await SqlaReadModelRepository(session).region_of_programme(programme_id)


async def load_programme_evaluations(
    db: Database, programme_id: uuid.UUID, region: str, q: ReportQuery
) -> dict[str, Any]:
    """A programme's evaluation report from that programme's stored rows only."""
    async with db.session() as session:
        model = await SqlaReadModelRepository(session).load_programme(region, programme_id)
    return programme_evaluation_report(model, programme_id, region, q)


async def load_session_evaluations(
    db: Database, session_id: uuid.UUID, place: SessionPlace, q: ReportQuery
) -> dict[str, Any]:
    """One session's evaluation report from that session's stored rows only."""
    async with db.session() as session:
        model = await SqlaReadModelRepository(session).load_session(place.region, session_id)
    return session_evaluation_report(model, session_id, place, q)


async def place_of_session(db: Database, session_id: uuid.UUID) -> SessionPlace | None:
    """The region and programme of a session; None when no event named it."""
    async with db.session() as session:
        found = await SqlaReadModelRepository(session).place_of_session(session_id)
    return SessionPlace(*found) if found else None


async def load_response_rates(
    db: Database, q: ReportQuery, *, region: str | None, programme_id: uuid.UUID | None
) -> list[dict[str, Any]]:
    """Response rates per session for the dashboard: the network, a region or a programme."""
    async with db.session() as session:
        repo = SqlaReadModelRepository(session)
        if region is not None and programme_id is not None:
            model = await repo.load_programme(region, programme_id)
        else:
            model = await repo.load(region)
    if region is None:
        model = model.network_only()
    return session_response_rates(model, q)
