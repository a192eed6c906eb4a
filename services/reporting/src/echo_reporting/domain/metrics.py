"""The metrics funders and hubs judge programmes by, computed from a read model.

Definitions (a date range is inclusive at both ends; a session belongs to the day it starts, UTC):
- programmes: created programmes running in the range (start on or before its end, no end or an
  end on or after its start);
- sessions_total / sessions_scheduled / sessions_cancelled: sessions starting in the range, all /
  not cancelled / cancelled; sessions_held: not cancelled and ended by `as_of`;
- registrations, registered_participants: registrations confirmed in the range, and the distinct
  participants they name; attending_participants: distinct (non-guest) participants with attended
  time in a non-cancelled session of the range; unique_participants: either of those;
  unique_clinics: their distinct clinics (spokes); professions: unique participants by profession;
- attendances: attendance records with attended time in held sessions; average_attendance: that per
  held session;
- retention: share of (participant, programme) registrations, for programmes with held sessions in
  the range, attending at least half of those sessions;
- didactic_hours: hours of held sessions (the events carry no separate didactic length);
- cases_*: cases reaching that stage in the range (cases_rejected: regional view only);
- cme_hours: current hours of credits for sessions in the range (award day when the session is
  unknown); certificates_issued: certificates first issued in the range;
- evaluations, guests, the library (`OUTCOME_METRICS`): see `outcomes`.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from echo_contracts.events import Profession

from echo_reporting.domain.model import ReadModel, Row
from echo_reporting.domain.outcomes import evaluation_day, outcome_metrics

NETWORK_METRICS: tuple[str, ...] = (
    "programmes",
    "sessions_total",
    "sessions_scheduled",
    "sessions_held",
    "sessions_cancelled",
    "registrations",
    "registered_participants",
    "attending_participants",
    "unique_participants",
    "unique_clinics",
    "attendances",
    "average_attendance",
    "retention",
    "didactic_hours",
    "cases_submitted",
    "cases_approved",
    "cases_scheduled",
    "cases_presented",
    "cases_with_recommendations",
    "cme_hours",
    "certificates_issued",
)
REGIONAL_METRICS: tuple[str, ...] = (*NETWORK_METRICS, "cases_rejected")
PROFESSIONS: tuple[str, ...] = tuple(p.value for p in Profession)


class InvalidDateRange(ValueError):
    """`from` is after `to`."""

    field = "to"


@dataclass(frozen=True)
class DateRange:
    """Inclusive days; an open end is unbounded."""

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise InvalidDateRange(f"`to` ({self.end}) is before `from` ({self.start}); swap them")

    def contains(self, when: date | datetime | None) -> bool:
        if when is None:
            return False
        day = when.date() if isinstance(when, datetime) else when
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def overlaps(self, start: date | None, end: date | None) -> bool:
        if start is None:
            return False
        return (self.end is None or start <= self.end) and (
            self.start is None or end is None or end >= self.start
        )

    def month(self, month: str) -> DateRange:
        """This range narrowed to one month `YYYY-MM`."""
        year, mon = (int(p) for p in month.split("-"))
        first = date(year, mon, 1)
        nxt = date(year + mon // 12, mon % 12 + 1, 1)
        last = date.fromordinal(nxt.toordinal() - 1)
        return DateRange(
            max(first, self.start) if self.start else first,
            min(last, self.end) if self.end else last,
        )


def _held(session: Row, as_of: datetime) -> bool:
    return (
        not session["cancelled"] and session["ends_at"] is not None and session["ends_at"] <= as_of
    )


def compute(model: ReadModel, rng: DateRange, as_of: datetime, *, regional: bool) -> dict[str, Any]:
    """Every metric of `model` over `rng`; `regional` adds the metrics of regional events."""
    rows = model.rows
    sessions = {k: s for k, s in rows["sessions"].items() if rng.contains(s["starts_at"])}
    live = {k: s for k, s in sessions.items() if not s["cancelled"]}
    held = {k: s for k, s in live.items() if _held(s, as_of)}

    registrations = [r for r in rows["registrations"].values() if rng.contains(r["registered_at"])]
    registered = {r["participant_id"] for r in registrations}
    attended = [
        a
        for a in rows["attendance"].values()
        if a["attended_seconds"] > 0 and a["session_id"] in live
    ]
    attending = {a["participant_id"] for a in attended if not a["guest"] and a["participant_id"]}
    unique = registered | attending

    clinic_of: dict[uuid.UUID, uuid.UUID] = {}
    profession_of: dict[uuid.UUID, str] = {}
    if regional:
        for p in rows["participants"].values():
            if p["profession"] is not None:
                profession_of[p["id"]] = p["profession"]
                clinic_of[p["id"]] = p["clinic_id"]
    for r in sorted(rows["registrations"].values(), key=lambda r: r["stamp"], reverse=True):
        # The latest registration of a participant names their current clinic and profession.
        clinic_of.setdefault(r["participant_id"], r["clinic_id"])
        profession_of.setdefault(r["participant_id"], r["profession"])
    professions = dict.fromkeys(PROFESSIONS, 0)
    for person in unique:
        if person in profession_of:
            professions[profession_of[person]] += 1

    held_attendances = [a for a in attended if a["session_id"] in held]
    held_by_programme: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for key, s in held.items():
        held_by_programme[s["programme_id"]].add(key)
    sessions_attended: dict[tuple[uuid.UUID, uuid.UUID], set[uuid.UUID]] = defaultdict(set)
    for a in held_attendances:
        if a["participant_id"] is not None:
            sessions_attended[(a["participant_id"], a["programme_id"])].add(a["session_id"])
    pairs = {
        (r["participant_id"], r["programme_id"])
        for r in rows["registrations"].values()
        if r["registered_at"] is not None
        and (rng.end is None or r["registered_at"].date() <= rng.end)
        and held_by_programme.get(r["programme_id"])
    }
    retained = sum(
        1
        for person, programme in pairs
        if 2 * len(sessions_attended[(person, programme)]) >= len(held_by_programme[programme])
    )

    def stage(name: str) -> int:
        return sum(1 for c in rows["cases"].values() if rng.contains(c[name]))

    def credit_day(credit: Row) -> datetime | None:
        return _credit_day(model, credit)

    metrics: dict[str, Any] = {
        "programmes": sum(
            1
            for p in rows["programmes"].values()
            if p["created"] and rng.overlaps(p["starts_on"], p["ends_on"])
        ),
        "sessions_total": len(sessions),
        "sessions_scheduled": len(live),
        "sessions_held": len(held),
        "sessions_cancelled": len(sessions) - len(live),
        "registrations": len(registrations),
        "registered_participants": len(registered),
        "attending_participants": len(attending),
        "unique_participants": len(unique),
        "unique_clinics": len({clinic_of[p] for p in unique if p in clinic_of}),
        "attendances": len(held_attendances),
        "average_attendance": round(len(held_attendances) / len(held), 2) if held else 0.0,
        "retention": round(retained / len(pairs), 4) if pairs else 0.0,
        "didactic_hours": round(
            math.fsum((s["ends_at"] - s["starts_at"]).total_seconds() for s in held.values())
            / 3600,
            2,
        ),
        "cases_submitted": stage("submitted_at"),
        "cases_approved": stage("approved_at"),
        "cases_scheduled": stage("scheduled_at"),
        "cases_presented": stage("presented_at"),
        "cases_with_recommendations": stage("recommendations_at"),
        "cme_hours": round(
            math.fsum(c["hours"] for c in rows["credits"].values() if rng.contains(credit_day(c))),
            2,
        ),
        "certificates_issued": sum(
            1 for c in rows["certificates"].values() if rng.contains(c["issued_at"])
        ),
    }
    if regional:
        metrics["cases_rejected"] = stage("rejected_at")
    metrics.update(
        outcome_metrics(
            model,
            rng,
            attended=attended,
            held=lambda a: a["session_id"] in held,
            attending_participants=len(attending),
        )
    )
    metrics["professions"] = professions
    return metrics


def _credit_day(model: ReadModel, credit: Row) -> datetime | None:
    session = model.rows["sessions"].get(credit["session_id"])
    start: datetime | None = session["starts_at"] if session else None
    awarded: datetime | None = credit["awarded_at"]
    return start or awarded


def months(model: ReadModel, rng: DateRange) -> list[str]:
    """The months `YYYY-MM` in `rng` in which anything countable happened, in order."""
    seen: set[str] = set()
    rows = model.rows

    def add(when: date | datetime | None) -> None:
        if when is not None and rng.contains(when):
            seen.add(f"{when.year:04d}-{when.month:02d}")

    for s in rows["sessions"].values():
        add(s["starts_at"])
    for r in rows["registrations"].values():
        add(r["registered_at"])
    for c in rows["cases"].values():
        for name in ("submitted_at", "approved_at", "scheduled_at", "presented_at"):
            add(c[name])
        add(c["recommendations_at"])
    for c in rows["credits"].values():
        add(_credit_day(model, c))
    for c in rows["certificates"].values():
        add(c["issued_at"])
    for e in rows["evaluations"].values():
        add(evaluation_day(model, e["id"], e["opened_at"]))
    for r in rows["responses"].values():
        add(evaluation_day(model, r["session_id"], r["submitted_at"]))
    for m in rows["materials"].values():
        add(m["added_at"])
    return sorted(seen)
