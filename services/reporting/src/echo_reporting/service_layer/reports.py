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


@dataclass(frozen=True)
class ReportQuery:
    rng: DateRange = field(default_factory=DateRange)
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))


class ProgrammeNotFound(LookupError):
    """No programme with that id that the caller may read."""


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
    return {
        "scope": "network",
        **_period(q),
        "totals": compute(net, q.rng, q.as_of, regional=False),
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


def region_report(model: ReadModel, region: str, q: ReportQuery) -> dict[str, Any]:
    """One region's numbers (its regional events included), per programme and by month."""
    mine = model.in_region(region)
    programmes = []
    for pid in _programme_ids(mine):
        row = mine.rows["programmes"].get(pid)
        programmes.append(
            {
                "programme_id": str(pid),
                "title": row["title"] if row else None,
                **compute(mine.of_programme(pid), q.rng, q.as_of, regional=True),
            }
        )
    return {
        "scope": "region",
        "region": region,
        **_period(q),
        "totals": compute(mine, q.rng, q.as_of, regional=True),
        "programmes": programmes,
        "months": _months(mine, q, regional=True),
    }


def programme_report(
    model: ReadModel, programme_id: uuid.UUID, region: str, q: ReportQuery
) -> dict[str, Any]:
    """One programme's numbers, overall and by month."""
    mine = model.in_region(region).of_programme(programme_id)
    row = mine.rows["programmes"].get(programme_id)
    return {
        "scope": "programme",
        "programme_id": str(programme_id),
        "region": region,
        "title": row["title"] if row else None,
        "starts_on": row["starts_on"].isoformat() if row and row["starts_on"] else None,
        "ends_on": row["ends_on"].isoformat() if row and row["ends_on"] else None,
        **_period(q),
        "totals": compute(mine, q.rng, q.as_of, regional=True),
        "months": _months(mine, q, regional=True),
    }


CSV_KEYS = ("level", "region", "programme_id", "month", "from", "to")


def csv_columns(*, regional: bool) -> list[str]:
    """The stable header of a report's CSV."""
    metrics = REGIONAL_METRICS if regional else NETWORK_METRICS
    return [*CSV_KEYS, *metrics, *(f"profession_{p}" for p in PROFESSIONS)]


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


async def load_network_report(db: Database, served: list[str], q: ReportQuery) -> dict[str, Any]:
    """The network report over every stored row; every served region is listed."""
    async with db.session() as session:
        repo = SqlaReadModelRepository(session)
        model = await repo.load()
        regions = sorted(set(served) | set(await repo.regions()))
    return network_report(model, regions, q)


async def load_region_report(db: Database, region: str, q: ReportQuery) -> dict[str, Any]:
    """One region's report from its stored rows."""
    async with db.session() as session:
        model = await SqlaReadModelRepository(session).load(region)
    return region_report(model, region, q)


async def load_programme_report(
    db: Database, programme_id: uuid.UUID, region: str, q: ReportQuery
) -> dict[str, Any]:
    """One programme's report from its region's stored rows."""
    async with db.session() as session:
        model = await SqlaReadModelRepository(session).load(region)
    return programme_report(model, programme_id, region, q)


async def region_of_programme(db: Database, programme_id: uuid.UUID) -> str | None:
    """The region a programme's events came from; None when no event named it."""
    async with db.session() as session:
        return await SqlaReadModelRepository(session).region_of_programme(programme_id)
